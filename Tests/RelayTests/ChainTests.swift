import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// A service of `kind` whose connections go through `hops`, as the configuration builds it: the
/// first hop's nodes are the targets; a `tcp://` service's own targets go to the last hop.
func chainedService(
    _ kind: ServiceConfig.Kind, hops: [ChainHop], destinations: [TargetAddress] = [], send: ProxySendConfig? = nil,
    connectTimeout: Duration = .seconds(5)
) -> ServiceConfig {
    var service = kind == .proxy
        ? proxyService(send: send, connectTimeout: connectTimeout)
        : forwardService(to: [], send: send, connectTimeout: connectTimeout)
    service.targets = hops[0].targets.map {
        TargetAddress(host: $0.host, port: $0.port, resolved: [IPEndpoint(address: .v4(.loopback), port: $0.port)])
    }
    service.chain = hops
    service.chainTargets = destinations
    return service
}

func hop(_ connector: ChainHop.Connector, _ port: UInt16, credentials: Credentials? = nil, sendProxy: ProxySendConfig.Version? = nil) -> ChainHop {
    ChainHop(connector, targets: [TargetAddress(host: "127.0.0.1", port: port)], credentials: credentials, sendProxy: sendProxy)
}

/// An HTTP proxy node played by the test: it notes the bytes before the blank line of the CONNECT
/// (a PROXY header included), answers `status`, and on 200 echoes the tunnel.
func scriptedHTTPHop(
    status: String = "200 Connection established", silent: Bool = false, afterHead: String = ""
) throws -> ScriptedUpstream {
    try ScriptedUpstream { fd, upstream in
        let head = Sockets.receiveHead(fd)
        upstream.note(String(decoding: head, as: UTF8.self))
        if silent {
            _ = Sockets.receiveOnce(fd)
            close(fd)
            return
        }
        try? Sockets.sendAll(fd, "HTTP/1.1 \(status)\r\n\r\n" + afterHead)
        if status.hasPrefix("200") {
            while true {
                let (bytes, code) = Sockets.receiveOnce(fd)
                if bytes.isEmpty || code != 0 { break }
                try? Sockets.sendAll(fd, bytes)
            }
        }
        shutdown(fd, Int32(SHUT_WR))
        close(fd)
    }
}

@Suite("-F proxy hops", .serialized)
struct ChainTests {
    /// GOST's example `-L :8080 -F http://:8000?proxyProtocol=1`: the header goes first, with the
    /// client as source and the service's own address as destination, then the CONNECT.
    @Test func httpHopGetsTheHeaderThenCONNECTWithCredentials() throws {
        let node = try scriptedHTTPHop()
        defer { node.stop() }
        let relay = try RelayFixture([
            chainedService(.proxy, hops: [hop(.http, node.port, credentials: Credentials(user: "u", password: "p"), sendProxy: .v1)])
        ])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port, from: .v4(.init(127, 0, 0, 5)))
        defer { close(fd) }
        try Sockets.sendAll(fd, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "example.test", 443) + Array("hello".utf8))
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        #expect(Array(try Sockets.receive(fd, exactly: 10).prefix(2)) == [5, 0])
        #expect(String(decoding: try Sockets.receive(fd, exactly: 5), as: UTF8.self) == "hello")
        let seen = try #require(node.waitForNote { _ in true })
        let lines = seen.components(separatedBy: "\r\n")
        #expect(lines[0].hasPrefix("PROXY TCP4 127.0.0.5 127.0.0.1 "), "\(seen)")
        #expect(lines[0].hasSuffix(" \(relay.port)"), "destination: the service's own address: \(seen)")
        #expect(lines[1] == "CONNECT example.test:443 HTTP/1.1", "\(seen)")
        #expect(lines.contains("Host: example.test:443"), "\(seen)")
        #expect(lines.contains("Proxy-Authorization: Basic dTpw"), "\(seen)")
        #expect(relay.logs.waitForLine(containing: [" <-> example.test:443 via http://127.0.0.1:\(node.port)"]) != nil)
    }

    @Test func aTcpServiceAsksTheLastHopForItsTargets() throws {
        let node = try scriptedHTTPHop()
        defer { node.stop() }
        let relay = try RelayFixture([
            chainedService(.forward, hops: [hop(.http, node.port)], destinations: [TargetAddress(host: "10.9.8.7", port: 80)])
        ])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        defer { close(fd) }
        try Sockets.sendAll(fd, "ping")
        #expect(String(decoding: try Sockets.receive(fd, exactly: 4), as: UTF8.self) == "ping")
        #expect(node.waitForNote { _ in true }?.hasPrefix("CONNECT 10.9.8.7:80 HTTP/1.1\r\n") == true)
    }

    @Test func aRefusingHopAnswersTheClientAndNamesTheHop() throws {
        let node = try scriptedHTTPHop(status: "403 Forbidden")
        defer { node.stop() }
        let relay = try RelayFixture([chainedService(.proxy, hops: [hop(.http, node.port)])])
        defer { relay.stop() }
        let http = try Sockets.connect(port: relay.port)
        defer { close(http) }
        try Sockets.sendAll(http, "CONNECT example.test:443 HTTP/1.1\r\n\r\n")
        #expect(String(decoding: try Sockets.receiveAll(http), as: UTF8.self).hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        let socks = try Sockets.connect(port: relay.port)
        defer { close(socks) }
        try Sockets.sendAll(socks, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "example.test", 443))
        #expect(Array(try Sockets.receiveAll(socks).prefix(4)) == [5, 0, 5, 5], "connection refused")
        #expect(relay.logs.waitForLine(containing: ["hop 1 (http://127.0.0.1:\(node.port)): CONNECT answered 403"]) != nil)
        #expect(relay.eventually { relay.closes("upstream_unavailable") == 2 })
    }

    /// A destination that speaks first (an SSH or SMTP banner) may arrive in the same read as
    /// the hop's 200: it reaches the client right behind the success reply.
    @Test func bytesBehindTheLastHopsAnswerReachTheClientAfterTheReply() throws {
        let node = try scriptedHTTPHop(afterHead: "SSH-2.0-banner\r\n")
        defer { node.stop() }
        let relay = try RelayFixture([chainedService(.proxy, hops: [hop(.http, node.port)])])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        defer { close(fd) }
        try Sockets.sendAll(fd, "CONNECT example.test:22 HTTP/1.1\r\n\r\n")
        let expected = "HTTP/1.1 200 Connection established\r\n\r\nSSH-2.0-banner\r\n"
        #expect(String(decoding: try Sockets.receive(fd, exactly: expected.utf8.count), as: UTF8.self) == expected)
    }

    /// A hop's answer is bounded: a head that does not end within 4 KiB is a failed hop, not a
    /// buffer that grows.
    @Test func anEndlessHopAnswerIsABadGateway() throws {
        let node = try ScriptedUpstream { fd, _ in
            _ = Sockets.receiveOnce(fd)
            try? Sockets.sendAll(fd, "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Filler: 0123456789\r\n", count: 300))
            _ = Sockets.receiveOnce(fd)
            close(fd)
        }
        defer { node.stop() }
        let relay = try RelayFixture([chainedService(.proxy, hops: [hop(.http, node.port)])])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        defer { close(fd) }
        try Sockets.sendAll(fd, "CONNECT example.test:443 HTTP/1.1\r\n\r\n")
        #expect(String(decoding: try Sockets.receiveAll(fd), as: UTF8.self).hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(relay.logs.waitForLine(containing: ["hop 1 (http://127.0.0.1:\(node.port))"]) != nil)
    }

    @Test func aSilentHopIsAGatewayTimeout() throws {
        let node = try scriptedHTTPHop(silent: true)
        defer { node.stop() }
        let relay = try RelayFixture([chainedService(.proxy, hops: [hop(.http, node.port)], connectTimeout: .milliseconds(300))])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        defer { close(fd) }
        try Sockets.sendAll(fd, "CONNECT example.test:443 HTTP/1.1\r\n\r\n")
        #expect(String(decoding: try Sockets.receiveAll(fd), as: UTF8.self).hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(relay.metric("ringway_upstream_connect_timeouts_total") == 1)
    }

    /// Ringway -> Ringway (http, requiring a PROXY header) -> Ringway (socks5 with credentials) ->
    /// target: a three-engine chain where the middle node sees the real client.
    @Test func ringwayNodesChainedThroughHTTPAndSOCKS5() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let socksNode = try RelayFixture([{
            var service = proxyService("socks5", .socks5, credentials: Credentials(user: "alice", password: "pw"))
            service.name = "socks-node"
            return service
        }()])
        defer { socksNode.stop() }
        let httpNode = try RelayFixture([{
            var service = proxyService("http", .http, receive: ProxyReceiveConfig(policy: .require))
            service.name = "http-node"
            return service
        }()])
        defer { httpNode.stop() }
        let front = try RelayFixture([
            chainedService(.proxy, hops: [
                hop(.http, httpNode.port, sendProxy: .v2),
                hop(.socks5, socksNode.port, credentials: Credentials(user: "alice", password: "pw")),
            ])
        ])
        defer { front.stop() }
        let fd = try Sockets.connect(port: front.port, from: .v4(.init(127, 0, 0, 9)))
        defer { close(fd) }
        try Sockets.sendAll(fd, "CONNECT 127.0.0.1:\(echo.port) HTTP/1.1\r\n\r\n")
        let established = "HTTP/1.1 200 Connection established\r\n\r\n"
        #expect(String(decoding: try Sockets.receive(fd, exactly: established.utf8.count), as: UTF8.self) == established)
        try Sockets.sendAll(fd, "through two hops")
        #expect(String(decoding: try Sockets.receive(fd, exactly: 16), as: UTF8.self) == "through two hops")
        #expect(httpNode.logs.waitForLine(containing: ["\"client\":\"127.0.0.9:", " <-> 127.0.0.1:\(socksNode.port)"]) != nil)
        #expect(socksNode.logs.waitForLine(containing: [" <-> 127.0.0.1:\(echo.port)"]) != nil)
    }

    @Test func aSOCKS5HopsReplyCodePassesToASOCKS5Client() throws {
        let socksNode = try RelayFixture([proxyService("socks5", .socks5)])
        defer { socksNode.stop() }
        let front = try RelayFixture([chainedService(.proxy, hops: [hop(.socks5, socksNode.port)])])
        defer { front.stop() }
        let dead = try closedPort()
        let fd = try Sockets.connect(port: front.port)
        defer { close(fd) }
        try Sockets.sendAll(fd, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(dead))
        #expect(Array(try Sockets.receiveAll(fd).prefix(4)) == [5, 0, 5, 5])
        #expect(front.logs.waitForLine(containing: ["hop 1 (socks5://127.0.0.1:\(socksNode.port)): CONNECT answered"]) != nil)
    }
}
