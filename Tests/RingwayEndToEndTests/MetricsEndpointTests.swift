import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The metrics endpoint over HTTP as the README describes it, and the README's list of metrics
/// against what the binary exports.
@Suite("Metrics endpoint", .serialized)
struct MetricsEndpointTests {
    func get(_ port: UInt16, _ path: String) throws -> String {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        try Sockets.sendAll(client, "GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    /// Every `ringway_...` name in the README's Metrics section.
    static func documentedMetrics() throws -> Set<String> {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = text.components(separatedBy: "\n## Metrics\n").last?.components(separatedBy: "\n## ").first ?? ""
        let pattern = try NSRegularExpression(pattern: "`(ringway_[a-z0-9_]+)")
        let range = NSRange(section.startIndex..., in: section)
        return Set(pattern.matches(in: section, range: range).compactMap { match in
            Range(match.range(at: 1), in: section).map { String(section[$0]) }
        })
    }

    @Test(arguments: ["--metrics", "-metrics"])
    func servesPrometheusTextAtMetricsAndRoot(_ option: String) throws {
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([option, "127.0.0.1:\(metrics)", "-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        for path in ["/metrics", "/"] {
            let response = try get(metrics, path)
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(path): \(response.prefix(80))")
            #expect(response.contains("Content-Type: text/plain; version=0.0.4"))
            #expect(response.contains("# TYPE ringway_connections_active gauge"))
            // The endpoint counts itself under the service label "metrics".
            #expect(response.contains("ringway_http_requests_total{service=\"metrics\"}"))
        }
        #expect(try get(metrics, "/other").hasPrefix("HTTP/1.1 404 Not Found"))
        // Scrapes are not logged at info (they would fill the log). A whoami request after them
        // is: once its line is there, theirs would be too.
        _ = try get(port, "/")
        #expect(ringway.waitForLine(containing: ["\"service\":\"service-0\"", " >< "]) != nil)
        #expect(!ringway.lines.contains { $0.contains("\"service\":\"metrics\"") && $0.contains(" >< ") })
    }

    @Test func everyDocumentedMetricIsExportedAndEveryExportedOneDocumented() throws {
        let documented = try Self.documentedMetrics()
        #expect(documented.count >= 20, "the README's list was not found: \(documented)")
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess(["--metrics", "127.0.0.1:\(metrics)", "-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let text = try get(metrics, "/metrics")
        let exported = Set(text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map {
            String($0.split(separator: " ")[2])
        })
        #expect(documented.subtracting(exported).isEmpty, "documented but not exported: \(documented.subtracting(exported))")
        #expect(exported.subtracting(documented).isEmpty, "exported but not documented: \(exported.subtracting(documented))")
    }

    /// The README: a request to the metrics endpoint must be complete within `requestTimeout`
    /// however slowly its bytes trickle in. One byte every 200 ms under `requestTimeout=1s`: the
    /// relay closes the connection about 1 s after the accept, and counts it.
    @Test func aRequestDribbledToTheMetricsEndpointIsCutOffAtItsRequestTimeout() throws {
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "1", "--metrics", "127.0.0.1:\(metrics)?requestTimeout=1s", "-L", "whoami://127.0.0.1:\(port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let client = try Sockets.connect(port: metrics)
        defer { close(client) }
        let started = monotonicSeconds()
        // 47 bytes, never a complete head: 9 s of dribbling if nothing cuts it off; stop at 4 s.
        var readable = false
        for byte in Array("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n".utf8) where monotonicSeconds() - started < 4 {
            if (try? Sockets.sendAll(client, [byte])) == nil { break }
            if Sockets.readable(client, within: 200) {
                readable = true
                break
            }
        }
        let elapsed = monotonicSeconds() - started
        #expect(readable && elapsed >= 0.9 && elapsed < 2, "closed after \(elapsed) s")
        if readable {
            let (bytes, code) = Sockets.receiveOnce(client)
            #expect(bytes.isEmpty || code != 0, "closed without an answer: got \(bytes.count) bytes, errno \(code)")
        }
        let series = "ringway_connections_closed_by_reason_total{service=\"metrics\",reason=\"request_timeout\"}"
        #expect(ProcessProbe.metric(series, port: metrics) == 1)
    }

    /// Reads one HTTP response (head and `Content-Length` body) from a keep-alive connection.
    func readResponse(_ fd: Int32) throws -> String {
        var bytes: [UInt8] = []
        while true {
            let text = String(decoding: bytes, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let length = text[..<end.lowerBound].split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.distance(from: text.utf8.startIndex, to: end.upperBound) + length <= bytes.count { return text }
            }
            let (chunk, code) = Sockets.receiveOnce(fd)
            guard code == 0, !chunk.isEmpty else { throw SocketError(what: "recv after \(bytes.count) bytes", code: code) }
            bytes += chunk
        }
    }

    /// The README: at most 64 scrapers at once. 64 keep-alive scrapers, each answered once and
    /// then idle, hold every place; a 65th waits unanswered (in the backlog, or accepted and
    /// queued), and is served as soon as one of the 64 leaves. Two workers: the limit is for the
    /// whole process.
    @Test func atMost64ScrapersAtOnce() throws {
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "2", "--metrics", "127.0.0.1:\(metrics)", "-L", "whoami://127.0.0.1:\(port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        var scrapers: [Int32] = []
        defer { scrapers.forEach { close($0) } }
        for _ in 0..<64 {
            let scraper = try Sockets.connect(port: metrics, timeoutSeconds: 3)
            scrapers.append(scraper)
            try Sockets.sendAll(scraper, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try readResponse(scraper)
            #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n") && response.contains("Connection: keep-alive"))
        }
        let extra = try Sockets.connect(port: metrics, timeoutSeconds: 3)
        defer { close(extra) }
        try Sockets.sendAll(extra, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(!Sockets.readable(extra, within: 1000), "the 65th scraper was answered while 64 were connected")
        close(scrapers.removeLast())
        #expect(Sockets.readable(extra, within: 3000), "the 65th scraper was not answered once a place was free")
        let response = String(decoding: try Sockets.receiveAll(extra), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response.prefix(80))")
        // 63 idle scrapers and this one.
        #expect(ProcessProbe.value("ringway_connections_active{service=\"metrics\"}", in: response) == 64)
    }
}
