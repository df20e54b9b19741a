import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// SIGHUP re-reads `-C` files: the issue's scenario, run against the binary.
@Suite("Live reload (SIGHUP)", .serialized)
struct ReloadEndToEndTests {
    static func configuration(_ services: [(name: String, port: UInt16, send: Bool)], echo: UInt16, metrics: UInt16) -> String {
        var text = "services:\n"
        for service in services {
            text += """
                - name: \(service.name)
                  addr: 127.0.0.1:\(service.port)
                  handler:
                    type: tcp\(service.send ? "\n    metadata:\n      proxyProtocol: 1" : "")
                  listener:
                    type: tcp
                  forwarder:
                    nodes:
                      - name: echo
                        addr: 127.0.0.1:\(echo)

                """
        }
        return text + "metrics:\n  addr: 127.0.0.1:\(metrics)\n"
    }

    @Test func reloadUnderLoadLosesNothingAndABrokenFileChangesNothing() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let ports = try freePorts(5)
        let (kept, changed, removed, added, metrics) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-reload-\(getpid())-\(kept)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("ringway.yaml")
        let first = Self.configuration(
            [("kept", kept, false), ("changed", changed, false), ("removed", removed, false)], echo: echo.port, metrics: metrics)
        try first.write(to: file, atomically: true, encoding: .utf8)

        let ringway = try RingwayProcess(["-C", file.path, "--workers", "2"])
        #expect(ringway.waitUntilListening(services: 4), "\(ringway.lines)")

        let loop = ConnectionChurn(port: kept, threads: 2)
        defer { loop.stop() }
        let onKept = try PacedTransfer(port: kept)
        let onRemoved = try PacedTransfer(port: removed)
        let onChanged = try Sockets.connect(port: changed)
        #expect(becomesTrue(within: 10) { loop.completedCount > 100 && onKept.progress > 0 && onRemoved.progress > 0 })

        // Reload 1: one service kept, one changed (now sends a PROXY header), one removed, one added.
        try Self.configuration(
            [("kept", kept, false), ("changed", changed, true), ("added", added, false)], echo: echo.port, metrics: metrics
        ).write(to: file, atomically: true, encoding: .utf8)
        var before = loop.completedCount
        ringway.signal(SIGHUP)
        let reloaded = ringway.waitForLine(containing: ["reloaded: 1 added (added), 1 changed (changed), 1 removed (removed)"])
        #expect(reloaded != nil, "\(ringway.lines.suffix(5))")
        #expect(becomesTrue(within: 10) { loop.completedCount > before + 100 })

        // The added service answers; the removed one refuses; the changed one applies to new
        // connections only.
        let onAdded = try Sockets.connect(port: added)
        try Sockets.sendAll(onAdded, "added")
        #expect(try Sockets.receive(onAdded, exactly: 5) == Array("added".utf8))
        close(onAdded)
        #expect(throws: SocketError.self) { _ = try Sockets.connect(port: removed, timeoutSeconds: 2) }
        try Sockets.sendAll(onChanged, "old")
        #expect(try Sockets.receive(onChanged, exactly: 3) == Array("old".utf8), "an open connection keeps its settings")
        let newOnChanged = try Sockets.connect(port: changed)
        try Sockets.sendAll(newOnChanged, "new")
        let header = try Sockets.receive(newOnChanged, exactly: 6)
        close(newOnChanged)
        #expect(header == Array("PROXY ".utf8), "a new connection gets the new settings: a PROXY header first")

        // Reload 2: a file YAML cannot read (a tab indents a line) changes nothing.
        try (first.replacingOccurrences(of: "\n    type: tcp\n  listener:", with: "\n\ttype: tcp\n  listener:"))
            .write(to: file, atomically: true, encoding: .utf8)
        before = loop.completedCount
        ringway.signal(SIGHUP)
        let refused = ringway.waitForLine(containing: ["reload refused", "tab"])
        #expect(refused?.contains("\"level\":\"error\"") == true, "\(refused ?? "no refusal line: \(ringway.lines.suffix(5))")")
        #expect(becomesTrue(within: 10) { loop.completedCount > before + 100 })
        #expect(throws: SocketError.self) { _ = try Sockets.connect(port: removed, timeoutSeconds: 2) }
        let stillAdded = try Sockets.connect(port: added)
        close(stillAdded)

        loop.stop()
        #expect(loop.failures.isEmpty, "\(loop.failureSummary)")
        #expect(onKept.finish() == nil)
        #expect(onRemoved.finish() == nil, "a removed service's transfer runs to its end")
        let text = ProcessProbe.scrape(port: metrics)
        #expect(ProcessProbe.value("ringway_reloads_total{result=\"applied\"}", in: text) == 1)
        #expect(ProcessProbe.value("ringway_reloads_total{result=\"refused\"}", in: text) == 1)
        #expect(ProcessProbe.value("ringway_connections_closed_by_reason_total{service=\"kept\",reason=\"client_reset\"}", in: text) == 0)
        close(onChanged)
        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0, "every connection has ended, so the drain is immediate")
    }
}
