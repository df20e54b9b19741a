import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// A proxy service (`auto`, `http`, `socks5`, `socks4`) listening on loopback.
func proxyService(
    _ handler: String = "auto", _ protocols: ProxyHandlerProtocols = .auto, credentials: Credentials? = nil,
    receive: ProxyReceiveConfig? = nil, send: ProxySendConfig? = nil, connectTimeout: Duration = .seconds(5),
    handshakeTimeout: Duration = .seconds(5), splice: Bool = false
) -> ServiceConfig {
    ServiceConfig(
        name: "service-0", kind: .proxy, listen: ListenAddress(host: .v4(.loopback), port: 0), receiveProxy: receive,
        sendProxy: send, connectTimeout: connectTimeout, splice: splice, handler: handler, proxyProtocols: protocols,
        credentials: credentials, handshakeTimeout: handshakeTimeout)
}

/// SOCKS5 messages as a client writes them (RFC 1928/1929), built here rather than by the codec
/// under test.
enum SOCKS5Bytes {
    static let greeting: [UInt8] = [5, 1, 0]
    static let greetingWithPassword: [UInt8] = [5, 1, 2]
    static func login(_ user: String, _ password: String) -> [UInt8] {
        [1, UInt8(user.utf8.count)] + Array(user.utf8) + [UInt8(password.utf8.count)] + Array(password.utf8)
    }
    static func connect(_ port: UInt16, command: UInt8 = 1) -> [UInt8] {
        [5, command, 0, 1, 127, 0, 0, 1, UInt8(port >> 8), UInt8(port & 0xFF)]
    }
    static func connect(name: String, _ port: UInt16) -> [UInt8] {
        [5, 1, 0, 3, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }
}

@Suite("Proxy services", .serialized)
struct ProxyServiceTests {
    /// Connects and sends `bytes`.
    func client(_ relay: RelayFixture, _ bytes: [UInt8]) throws -> Int32 {
        let fd = try Sockets.connect(port: relay.port, timeoutSeconds: 5)
        try Sockets.sendAll(fd, bytes)
        return fd
    }

    /// Everything until EOF, as text.
    func rest(_ fd: Int32) throws -> String { String(decoding: try Sockets.receiveAll(fd), as: UTF8.self) }

    @Test(arguments: [false, true])
    func httpConnectTunnelsAndCarriesBytesSentWithTheRequest(splice: Bool) throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([proxyService(splice: splice)])
        defer { relay.stop() }
        // The first tunnel bytes ride in the same segment as the request head.
        let fd = try client(relay, Array("CONNECT 127.0.0.1:\(echo.port) HTTP/1.1\r\nHost: x\r\n\r\nearly".utf8))
        defer { close(fd) }
        let established = "HTTP/1.1 200 Connection established\r\n\r\n"
        #expect(String(decoding: try Sockets.receive(fd, exactly: established.utf8.count), as: UTF8.self) == established)
        #expect(String(decoding: try Sockets.receive(fd, exactly: 5), as: UTF8.self) == "early")
        try Sockets.sendAll(fd, "late")
        #expect(String(decoding: try Sockets.receive(fd, exactly: 4), as: UTF8.self) == "late")
        shutdown(fd, Int32(SHUT_WR))
        #expect(try rest(fd).isEmpty)
        #expect(relay.eventually { relay.closes("finished") == 1 })
        #expect(relay.metric("ringway_proxy_requests_total") == 1)
        let line = relay.logs.waitForLine(containing: [" <-> 127.0.0.1:\(echo.port)"])
        #expect(line?.contains("\"handler\":\"auto\"") == true)
    }

    @Test func absoluteFormRequestGoesToTheOriginInOriginFormWithoutProxyHeaders() throws {
        let origin = try ScriptedUpstream { fd, upstream in
            let head = Sockets.receiveHead(fd)
            upstream.note(String(decoding: head, as: UTF8.self))
            try? Sockets.sendAll(fd, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            shutdown(fd, Int32(SHUT_WR))
            close(fd)
        }
        defer { origin.stop() }
        let relay = try RelayFixture([proxyService("http", .http)])
        defer { relay.stop() }
        let request = "GET http://127.0.0.1:\(origin.port)/a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1:\(origin.port)\r\n"
            + "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nAccept: */*\r\n\r\n"
        let fd = try client(relay, Array(request.utf8))
        defer { close(fd) }
        #expect(try rest(fd).hasPrefix("HTTP/1.1 204 No Content"))
        let seen = origin.waitForNote { _ in true }
        #expect(seen == "GET /a/b?c=d HTTP/1.1\r\nHost: 127.0.0.1:\(origin.port)\r\nAccept: */*\r\n\r\n")
    }

    @Test func socks5ConnectToAnAddressRepliesWithTheBoundAddress() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([proxyService("socks5", .socks5)])
        defer { relay.stop() }
        let fd = try client(relay, SOCKS5Bytes.greeting)
        defer { close(fd) }
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        try Sockets.sendAll(fd, SOCKS5Bytes.connect(echo.port) + Array("ping".utf8))
        let reply = try Sockets.receive(fd, exactly: 10)
        #expect(Array(reply[0..<4]) == [5, 0, 0, 1])
        #expect(Array(reply[4..<8]) == [127, 0, 0, 1], "BND.ADDR: the relay's end of the upstream connection")
        #expect(reply[8] != 0 || reply[9] != 0, "BND.PORT is the upstream socket's port")
        #expect(String(decoding: try Sockets.receive(fd, exactly: 4), as: UTF8.self) == "ping")
    }

    @Test func socks5NamesAreResolvedWithoutBlockingAndUnknownOnesAnswerHostUnreachable() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dns = try FakeDNSServer(["echo.ringway.test": .init(v4: [.loopback])])
        defer { dns.stop() }
        let relay = try RelayFixture([proxyService("socks5", .socks5)], resolverServers: [dns.address])
        defer { relay.stop() }
        for _ in 0..<2 {
            let fd = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "echo.ringway.test", echo.port))
            defer { close(fd) }
            #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
            #expect(Array(try Sockets.receive(fd, exactly: 10)[0..<2]) == [5, 0])
            try Sockets.sendAll(fd, "hi")
            #expect(String(decoding: try Sockets.receive(fd, exactly: 2), as: UTF8.self) == "hi")
        }
        #expect(dns.queries("echo.ringway.test", "A") == 1, "the second connection is answered from the cache")
        let fd = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "nowhere.ringway.test", echo.port))
        defer { close(fd) }
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        #expect(Array(try Sockets.receive(fd, exactly: 10)[0..<2]) == [5, 4], "host unreachable")
        #expect(try Sockets.receiveAll(fd).isEmpty)
        #expect(relay.eventually { relay.closes("name_unresolved") == 1 })
    }

    @Test func aSilentResolverEndsInTTLExpiredAtTheHandshakeDeadline() throws {
        let dns = try FakeDNSServer([:], silent: true)
        defer { dns.stop() }
        let relay = try RelayFixture(
            [proxyService("socks5", .socks5, handshakeTimeout: .milliseconds(400))], resolverServers: [dns.address],
            resolverTimeoutMilliseconds: 5000)
        defer { relay.stop() }
        let fd = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "slow.ringway.test", 80))
        defer { close(fd) }
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        #expect(Array(try Sockets.receive(fd, exactly: 10)[0..<2]) == [5, 6])
        #expect(relay.eventually { relay.closes("name_unresolved") == 1 })
    }

    @Test func socks5UsernamePassword() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([proxyService("socks5", .socks5, credentials: Credentials(user: "alice", password: "s3cret"))])
        defer { relay.stop() }
        // The right pair gets through.
        let good = try client(relay, SOCKS5Bytes.greetingWithPassword)
        defer { close(good) }
        #expect(try Sockets.receive(good, exactly: 2) == [5, 2])
        try Sockets.sendAll(good, SOCKS5Bytes.login("alice", "s3cret") + SOCKS5Bytes.connect(echo.port))
        #expect(try Sockets.receive(good, exactly: 2) == [1, 0])
        #expect(Array(try Sockets.receive(good, exactly: 10)[0..<2]) == [5, 0])
        // A wrong password is refused (status 1) and closed.
        let wrong = try client(relay, SOCKS5Bytes.greetingWithPassword + SOCKS5Bytes.login("alice", "s3creT"))
        defer { close(wrong) }
        #expect(try Sockets.receive(wrong, exactly: 2) == [5, 2])
        #expect(try Sockets.receiveAll(wrong) == [1, 1])
        // A client offering only "no authentication" gets "no acceptable methods".
        let none = try client(relay, SOCKS5Bytes.greeting)
        defer { close(none) }
        #expect(try Sockets.receiveAll(none) == [5, 0xFF])
        #expect(relay.eventually { relay.closes("auth_failed") == 2 })
        #expect(relay.metric("ringway_handshake_failures_total") == 2)
    }

    @Test(arguments: [UInt8(2), 3, 9])
    func socks5CommandsOtherThanConnectAreNotSupported(command: UInt8) throws {
        let relay = try RelayFixture([proxyService()])
        defer { relay.stop() }
        let fd = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(80, command: command))
        defer { close(fd) }
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        let reply = try Sockets.receiveAll(fd)
        #expect(Array(reply.prefix(2)) == [5, 7], "command not supported")
        #expect(relay.eventually { relay.closes("command_not_supported") == 1 })
    }

    @Test func socks4AndSocks4aConnect() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dns = try FakeDNSServer(["four.ringway.test": .init(v4: [.loopback])])
        defer { dns.stop() }
        let relay = try RelayFixture([proxyService()], resolverServers: [dns.address])
        defer { relay.stop() }
        let port = [UInt8(echo.port >> 8), UInt8(echo.port & 0xFF)]
        let plain = [4, 1] + port + [127, 0, 0, 1] + Array("me".utf8) + [0]
        let named = [4, 1] + port + [0, 0, 0, 7] + [0] + Array("four.ringway.test".utf8) + [0]
        for request in [plain, named] {
            let fd = try client(relay, request + Array("x".utf8))
            defer { close(fd) }
            let reply = try Sockets.receive(fd, exactly: 8)
            #expect(reply[0] == 0 && reply[1] == 0x5A)
            #expect(String(decoding: try Sockets.receive(fd, exactly: 1), as: UTF8.self) == "x")
        }
    }

    @Test func aRefusedTargetAnswersEachProtocolsRefusal() throws {
        let dead = try closedPort()
        let relay = try RelayFixture([proxyService()])
        defer { relay.stop() }
        let http = try client(relay, Array("CONNECT 127.0.0.1:\(dead) HTTP/1.1\r\n\r\n".utf8))
        defer { close(http) }
        #expect(try rest(http).hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let socks5 = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(dead))
        defer { close(socks5) }
        #expect(Array(try Sockets.receiveAll(socks5).prefix(4)) == [5, 0, 5, 5], "method, then connection refused")
        let socks4 = try client(relay, [4, 1, UInt8(dead >> 8), UInt8(dead & 0xFF), 127, 0, 0, 1, 0])
        defer { close(socks4) }
        #expect(Array(try Sockets.receiveAll(socks4).prefix(2)) == [0, 0x5B])
        #expect(relay.eventually { relay.closes("upstream_unavailable") == 3 })
        #expect(relay.logs.waitForLine(containing: ["\"handler\":\"socks4\"", "no upstream could be reached"]) != nil)
    }

    @Test func anUnansweredConnectIsAGatewayTimeout() throws {
        let (port, sockets) = try unansweredPort()
        defer { sockets.forEach { close($0) } }
        let relay = try RelayFixture([proxyService(connectTimeout: .milliseconds(300))])
        defer { relay.stop() }
        let http = try client(relay, Array("CONNECT 127.0.0.1:\(port) HTTP/1.1\r\n\r\n".utf8))
        defer { close(http) }
        #expect(try rest(http).hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        let socks5 = try client(relay, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(port))
        defer { close(socks5) }
        #expect(Array(try Sockets.receiveAll(socks5).prefix(4)) == [5, 0, 5, 6], "TTL expired")
    }

    @Test func malformedRequestsAreAnsweredAndCounted() throws {
        let relay = try RelayFixture([proxyService(), proxyService("socks5", .socks5)].enumerated().map {
            var service = $0.element
            service.name = "service-\($0.offset)"
            return service
        })
        defer { relay.stop() }
        let garbage = try client(relay, Array("GET /relative HTTP/1.1\r\n\r\n".utf8))
        defer { close(garbage) }
        #expect(try rest(garbage).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        // A SOCKS4 client on a SOCKS5-only service is closed without a reply.
        let fd = try Sockets.connect(port: relay.port(1), timeoutSeconds: 5)
        defer { close(fd) }
        try Sockets.sendAll(fd, [4, 1, 0, 80, 127, 0, 0, 1, 0])
        #expect(try Sockets.receiveAll(fd).isEmpty)
        #expect(relay.eventually { relay.closes("handshake_invalid") == 1 && relay.closes("handshake_invalid", service: "service-1") == 1 })
        #expect(relay.logs.waitForLine(containing: ["first byte (0x04) is not SOCKS5 (0x05)"]) != nil)
    }

    /// Found by an attack run: one client pipelining `CONNECT <the proxy itself>` lines made each
    /// tunnel open the next, ~10,000 nested connections from one send. The proxy's own listeners
    /// and "this host" (0.0.0.0, ::) are refused.
    @Test func theProxyItselfAndThisHostAreNotTargets() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([proxyService()])
        defer { relay.stop() }
        let pipelined = String(repeating: "CONNECT 127.0.0.1:\(relay.port) HTTP/1.1\r\n\r\n", count: 50)
        let looping = try client(relay, Array(pipelined.utf8))
        defer { close(looping) }
        #expect(try rest(looping).hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
        let anyAddress = try client(relay, SOCKS5Bytes.greeting + [5, 1, 0, 1, 0, 0, 0, 0, UInt8(echo.port >> 8), UInt8(echo.port & 0xFF)])
        defer { close(anyAddress) }
        #expect(Array(try Sockets.receiveAll(anyAddress).prefix(4)) == [5, 0, 5, 2], "connection not allowed")
        #expect(relay.eventually { relay.closes("target_forbidden") == 2 })
        #expect(relay.metric("ringway_connections_accepted_total") == 2, "no nested connection was made")
    }

    @Test func aDribbledRequestIsCutOffAtTheHandshakeDeadline() throws {
        let relay = try RelayFixture([proxyService(handshakeTimeout: .milliseconds(300))])
        defer { relay.stop() }
        let fd = try client(relay, Array("CONNECT 127.0.0.1:1 HT".utf8))
        defer { close(fd) }
        let started = monotonicSeconds()
        for byte in "TP/1.1\r\n".utf8 {
            usleep(60_000)
            guard (try? Sockets.sendAll(fd, [byte])) != nil else { break }
        }
        #expect(try rest(fd).hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(monotonicSeconds() - started < 3)
        #expect(relay.eventually { relay.closes("handshake_timeout") == 1 })
    }

    @Test func httpProxyAuthentication() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([proxyService("http", .http, credentials: Credentials(user: "bob", password: "pw:1"))])
        defer { relay.stop() }
        let connect = "CONNECT 127.0.0.1:\(echo.port) HTTP/1.1\r\n"
        let missing = try client(relay, Array((connect + "\r\n").utf8))
        defer { close(missing) }
        let refusal = try rest(missing)
        #expect(refusal.hasPrefix("HTTP/1.1 407 Proxy Authentication Required\r\n"))
        #expect(refusal.contains("Proxy-Authenticate: Basic realm=\"ringway\"\r\n"))
        // base64("bob:pw:1") = Ym9iOnB3OjE=; a password may hold a colon.
        let good = try client(relay, Array((connect + "Proxy-Authorization: Basic Ym9iOnB3OjE=\r\n\r\n").utf8))
        defer { close(good) }
        #expect(String(decoding: try Sockets.receive(good, exactly: 39), as: UTF8.self) == "HTTP/1.1 200 Connection established\r\n\r\n")
        let wrong = try client(relay, Array((connect + "Proxy-Authorization: Basic Ym9iOnB3OjI=\r\n\r\n").utf8))
        defer { close(wrong) }
        #expect(try rest(wrong).hasPrefix("HTTP/1.1 407 "))
        #expect(relay.eventually { relay.closes("auth_failed") == 2 })
    }

    /// The PROXY header comes before the handshake; the client it names is the one logged and
    /// the one a header sent onward carries.
    @Test func aProxyHeaderBeforeTheHandshakeNamesTheClient() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try RelayFixture([
            proxyService(receive: ProxyReceiveConfig(policy: .require, trustedProxies: [CIDR("127.0.0.0/8")!]),
                         send: ProxySendConfig(version: .v1))
        ])
        defer { relay.stop() }
        let header = "PROXY TCP4 192.0.2.7 198.51.100.9 40000 443\r\n"
        let fd = try client(relay, Array(header.utf8) + SOCKS5Bytes.greeting + SOCKS5Bytes.connect(upstream.port) + Array("data".utf8))
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        #expect(Array(try Sockets.receive(fd, exactly: 10)[0..<2]) == [5, 0])
        shutdown(fd, Int32(SHUT_WR))
        _ = try Sockets.receiveAll(fd)
        close(fd)
        let seen = upstream.waitForNote { _ in true }
        #expect(seen?.contains("source=192.0.2.7:40000") == true, "\(seen ?? "none")")
        #expect(seen?.contains("destination=198.51.100.9:443") == true, "\(seen ?? "none")")
        #expect(seen?.contains("payload=data") == true, "\(seen ?? "none")")
        #expect(relay.logs.waitForLine(containing: ["\"client\":\"192.0.2.7:40000\"", " <-> "]) != nil)
    }
}
