import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// `/live` and `/ready` on the metrics endpoint, as the README describes them: both 200 while the
/// relay runs; during a drain `/ready` answers 503 while `/live` and `/metrics` go on answering,
/// and the endpoint closes once the relayed connections are gone, keep-alive scrapers or not.
@Suite("Health endpoints", .serialized)
struct HealthEndpointTests {
    /// One request on a new connection: status line, headers and body as text.
    func request(_ port: UInt16, _ method: String, _ path: String) throws -> (status: String, headers: String, body: String) {
        let client = try Sockets.connect(port: port, timeoutSeconds: 5)
        defer { close(client) }
        try Sockets.sendAll(client, "\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let text = String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        let head = parts[0]
        let status = head.components(separatedBy: "\r\n")[0]
        return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    func contentLength(_ headers: String) -> Int? {
        headers.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
    }

    @Test func liveAndReadyAnswer200WhileTheRelayRuns() throws {
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess(["--workers", "2", "--metrics", "127.0.0.1:\(metrics)", "-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let live = try request(metrics, "GET", "/live")
        #expect(live.status == "HTTP/1.1 200 OK" && live.body == "live\n", "\(live)")
        let ready = try request(metrics, "GET", "/ready")
        #expect(ready.status == "HTTP/1.1 200 OK" && ready.body == "ready\n", "\(ready)")
        let other = try request(metrics, "GET", "/health")
        #expect(other.status == "HTTP/1.1 404 Not Found" && other.body.contains("/live") && other.body.contains("/ready"), "\(other)")
    }

    /// HEAD gets what GET gets, Content-Length included, without the body (a body would be read
    /// as the next response on a kept-alive connection).
    @Test(arguments: ["/metrics", "/live", "/ready", "/nothing"])
    func headAnswersWithoutTheBody(_ path: String) throws {
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess(["--workers", "1", "--metrics", "127.0.0.1:\(metrics)", "-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let get = try request(metrics, "GET", path)
        let head = try request(metrics, "HEAD", path)
        #expect(head.status == get.status, "\(head.status) vs \(get.status)")
        #expect(head.body.isEmpty, "HEAD \(path) sent a body: \(head.body.prefix(80))")
        #expect(!get.body.isEmpty)
        if path != "/metrics" {
            #expect(contentLength(head.headers) == get.body.utf8.count, "\(head.headers)")
        } else {
            // The counters move between the two requests; the length stays that of a body.
            #expect((contentLength(head.headers) ?? 0) > 1000, "\(head.headers)")
        }
    }

    @Test func duringTheDrainReadyIs503WhileLiveAndMetricsStillAnswer() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "2", "--drain-timeout", "60s", "--metrics", "127.0.0.1:\(metrics)",
            "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let held = try Sockets.connect(port: port)
        defer { close(held) }
        try Sockets.sendAll(held, "hold")
        #expect(try Sockets.receive(held, exactly: 4) == Array("hold".utf8))
        #expect(try request(metrics, "GET", "/ready").status == "HTTP/1.1 200 OK")
        // A keep-alive scraper, connected before the drain and idle through it.
        let scraper = try Sockets.connect(port: metrics)
        defer { close(scraper) }

        ringway.signal(SIGTERM)
        #expect(becomesTrue(within: 10) { ringway.lines.filter { $0.contains("draining: stopped accepting") }.count == 2 },
                "\(ringway.lines)")
        #expect(refusesConnections(port: port))
        // Both workers answer (the kernel spreads the connections over their sockets).
        for _ in 0..<8 {
            let ready = try request(metrics, "GET", "/ready")
            #expect(ready.status == "HTTP/1.1 503 Service Unavailable" && ready.body == "draining\n", "\(ready)")
            let live = try request(metrics, "GET", "/live")
            #expect(live.status == "HTTP/1.1 200 OK", "\(live)")
        }
        #expect(try request(metrics, "HEAD", "/ready").status == "HTTP/1.1 503 Service Unavailable")
        let scrape = try request(metrics, "GET", "/metrics")
        #expect(scrape.status == "HTTP/1.1 200 OK")
        #expect(ProcessProbe.value("ringway_connections_active{service=\"service-0\"}", in: scrape.body) == 1, "\(scrape.body.prefix(300))")
        // The held connection still relays, and the kept-alive scraper is still served.
        try Sockets.sendAll(held, "still")
        #expect(try Sockets.receive(held, exactly: 5) == Array("still".utf8))
        try Sockets.sendAll(scraper, "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = String(decoding: Sockets.receiveHead(scraper), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 503 Service Unavailable"), "\(answer)")
        #expect(try Sockets.receive(scraper, exactly: 9) == Array("draining\n".utf8))

        // Once the relayed connection is gone the endpoint closes, its idle scraper with it, and
        // the process exits, long before the 60 s drain timeout.
        close(held)
        #expect(closedByRelay(scraper, withinMilliseconds: 5000), "the idle scraper kept the metrics endpoint open")
        #expect(ringway.waitForExit(seconds: 10) == 0)
        #expect(refusesConnections(port: metrics))
    }
}
