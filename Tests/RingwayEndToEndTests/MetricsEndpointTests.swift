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
        // Scrapes are not logged at info (they would fill the log).
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
}
