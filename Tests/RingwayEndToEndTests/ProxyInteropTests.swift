import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// An HTTP origin that answers every request with the request line it received, so a test sees
/// what form (origin or absolute) reached it.
func requestLineOrigin() throws -> ScriptedUpstream {
    try ScriptedUpstream { fd, _ in
        let head = Sockets.receiveHead(fd)
        let line = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n").first ?? ""
        let body = "seen: \(line)\n"
        try? Sockets.sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
        shutdown(fd, Int32(SHUT_WR))
        close(fd)
    }
}

private let curlMissing = Peer.curl == nil && !Peer.required

/// curl as the client of Ringway's proxy services, and the GOST page's proxy examples as written.
@Suite("Proxy services with curl")
struct ProxyInteropTests {
    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"),
          arguments: [
            ["-x", "http://127.0.0.1:@P"],
            ["-x", "http://127.0.0.1:@P", "--proxytunnel"],
            ["--socks5", "127.0.0.1:@P"],
            ["--socks5-hostname", "127.0.0.1:@P"],
            ["--socks4", "127.0.0.1:@P"],
            ["--socks4a", "127.0.0.1:@P"],
          ])
    func curlThroughTheAutoService(proxyArguments: [String]) throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-L", "127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 1))
        let arguments = proxyArguments.map { $0.replacingOccurrences(of: "@P", with: "\(port)") }
        // "localhost" makes the hostname variants hand the name to the proxy to resolve.
        let body = try curl("http://localhost:\(origin.port)/x?y=1", extra: arguments)
        // Absolute form (plain -x) reaches the origin rewritten; the tunnels carry curl's own request.
        #expect(body == "seen: GET /x?y=1 HTTP/1.1\n", "\(arguments): \(body)")
        #expect(ringway.waitForLine(containing: ["\"client\":\"127.0.0.5:", " <-> "]) != nil)
    }

    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"))
    func curlProxyUserOnHTTPAndSOCKS5() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (http, socks) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "-L", "http://alice:open%20sesame@127.0.0.1:\(http)", "-L", "socks5://alice:open%20sesame@127.0.0.1:\(socks)",
        ])
        #expect(ringway.waitUntilListening(services: 2))
        let url = "http://127.0.0.1:\(origin.port)/"
        #expect(try curl(url, extra: ["-x", "http://127.0.0.1:\(http)", "--proxy-user", "alice:open sesame"]) == "seen: GET / HTTP/1.1\n")
        #expect(try curl(url, extra: ["--socks5-hostname", "127.0.0.1:\(socks)", "--proxy-user", "alice:open sesame"])
                == "seen: GET / HTTP/1.1\n")
        let refused = try curl(url, extra: ["-x", "http://127.0.0.1:\(http)", "--proxy-user", "alice:guess", "-w", "%{http_code}", "-o", "/dev/null"])
        #expect(refused == "407")
        let socksRefused = try curl(url, extra: ["--socks5", "127.0.0.1:\(socks)", "--proxy-user", "alice:guess"])
        #expect(socksRefused.contains("curl: (97)"), "\(socksRefused)")
    }

    /// GOST: `gost -L=:8080?proxyProtocol=1`, an HTTP/SOCKS proxy that accepts a PROXY header.
    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"))
    func gostsProxyServiceWithProxyProtocolAsWritten() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-L=:\(port)?proxyProtocol=1"])
        #expect(ringway.waitUntilListening(services: 1))
        // A load balancer's header names the client; a client without one is served too.
        let withHeader = try curl("http://127.0.0.1:\(origin.port)/", extra: ["-x", "http://127.0.0.1:\(port)", "--haproxy-protocol"])
        #expect(withHeader == "seen: GET / HTTP/1.1\n")
        let plain = try curl("http://127.0.0.1:\(origin.port)/", from: "127.0.0.6", extra: ["--socks5", "127.0.0.1:\(port)"])
        #expect(plain == "seen: GET / HTTP/1.1\n")
        #expect(ringway.waitForLine(containing: ["\"client\":\"127.0.0.5:", "\"handler\":\"auto\""]) != nil)
        #expect(ringway.waitForLine(containing: ["\"client\":\"127.0.0.6:", "\"handler\":\"auto\""]) != nil)
    }

    /// GOST: `gost -L :8080 -F http://:8000?proxyProtocol=1`, with Ringway's own http service
    /// (requiring the header) as the node: a two-process chain to the origin.
    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"))
    func gostsProxySendingTheHeaderToItsHTTPNodeAsWritten() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (front, node) = (try freePort(), try freePort())
        let nodeProcess = try RingwayProcess(["-L", "http://127.0.0.1:\(node)?proxyProtocol=1&proxyProtocolPolicy=require"])
        #expect(nodeProcess.waitUntilListening(services: 1))
        let ringway = try RingwayProcess(["-L", ":\(front)", "-F", "http://:\(node)?proxyProtocol=1"])
        #expect(ringway.waitUntilListening(services: 1))
        for arguments in [["-x", "http://127.0.0.1:\(front)"], ["--socks5-hostname", "127.0.0.1:\(front)"]] {
            #expect(try curl("http://localhost:\(origin.port)/n", extra: arguments) == "seen: GET /n HTTP/1.1\n", "\(arguments)")
        }
        // The node saw the real client in the header, and connected to the origin for it.
        #expect(nodeProcess.waitForLine(containing: ["\"client\":\"127.0.0.5:", " <-> 127.0.0.1:\(origin.port)"]) != nil)
        #expect(ringway.waitForLine(containing: [" <-> localhost:\(origin.port) via http://:\(node)"]) != nil)
    }

    /// GOST: `gost -L rtcp://:8080/:8000?handler.proxyProtocol=1` (rtcp without a chain).
    @Test func gostsRtcpWithoutAChainAsWritten() throws {
        let upstream = try ScriptedUpstream { fd, upstream in
            let (bytes, _) = Sockets.receiveOnce(fd)
            upstream.note(String(decoding: bytes, as: UTF8.self))
            close(fd)
        }
        defer { upstream.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-L", "rtcp://:\(port)/:\(upstream.port)?handler.proxyProtocol=1"])
        #expect(ringway.waitUntilListening(services: 1))
        let client = try Sockets.connect(port: port, from: .v4(.init(127, 0, 0, 5)))
        defer { close(client) }
        try Sockets.sendAll(client, "x")
        let seen = upstream.waitForNote { _ in true }
        #expect(seen?.hasPrefix("PROXY TCP4 127.0.0.5 127.0.0.1 ") == true, "\(seen ?? "none")")
        #expect(ringway.waitForLine(containing: ["\"handler\":\"rtcp\"", " <-> "]) != nil)
    }

    /// GOST's log example: `-L tcp://:8000/:8080 -L tcp://:8080/example.com:80?proxyProtocol=1`;
    /// the second service logs the first relay's address (127.0.0.1) as the client of a plain curl.
    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"))
    func gostsLogExampleShowsTheLocalDialAsTheClient() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (first, second) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "-L", "tcp://:\(first)/:\(second)", "-L", "tcp://:\(second)/127.0.0.1:\(origin.port)?proxyProtocol=1",
        ])
        #expect(ringway.waitUntilListening(services: 2))
        #expect(try curl("http://127.0.0.1:\(first)/") == "seen: GET / HTTP/1.1\n")
        let line = try #require(ringway.waitForLine(containing: ["\"service\":\"service-1\"", " <-> "]))
        #expect(line.contains("\"client\":\"127.0.0.1:"), "\(line)")
        #expect(line.contains("\"kind\":\"handler\""), "\(line)")
    }
}
