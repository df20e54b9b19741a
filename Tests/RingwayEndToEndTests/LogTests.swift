import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The JSON log lines the README documents: GOST's events and fields, the time format, a unique
/// `sid` per connection, levels, the start-up warning, and whole lines under concurrent workers.
@Suite("Logs", .serialized)
struct LogTests {
    func object(_ line: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }

    func exchange(_ port: UInt16, _ text: String = "12345") throws {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        try Sockets.sendAll(client, text)
        shutdown(client, Int32(SHUT_WR))
        _ = try Sockets.receiveAll(client)
    }

    @Test func connectionEventsAtTheirLevelsWithGOSTsFields() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-D", "--workers", "1", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        #expect(ringway.waitUntilListening(services: 1))
        try exchange(port)
        let accepted = try #require(ringway.waitForLine(containing: [" <> 127.0.0.1:\(port)"]))
        let connected = try #require(ringway.waitForLine(containing: [" <-> 127.0.0.1:\(echo.port)"]))
        let closed = try #require(ringway.waitForLine(containing: [" >< 127.0.0.1:\(port)"]))
        let dialing = try #require(ringway.waitForLine(containing: [" >> 127.0.0.1:\(echo.port)"]))
        #expect(object(accepted)?["level"] as? String == "info")
        #expect(object(dialing)?["level"] as? String == "debug")
        #expect([accepted, dialing, connected, closed].allSatisfy { object($0)?["kind"] as? String == "handler" })
        #expect(object(connected)?["level"] as? String == "info")
        #expect(object(connected)?["dst"] as? String == "127.0.0.1:\(echo.port)")
        #expect(object(closed)?["level"] as? String == "info")
        #expect(object(closed)?["reason"] as? String == "finished")
        // One connection, one sid on all three lines.
        let sids = Set([accepted, dialing, connected, closed].compactMap { object($0)?["sid"] as? String })
        #expect(sids.count == 1)
        for line in ringway.lines {
            let time = object(line)?["time"] as? String ?? ""
            #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
        }
    }

    @Test func sidsAreUniqueAnd32HexDigits() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["--workers", "2", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        #expect(ringway.waitUntilListening(services: 1))
        for _ in 0..<50 { try exchange(port, "x") }
        #expect(becomesTrue(within: 5) { ringway.lines.filter { $0.contains(" >< ") }.count == 50 })
        let sids = ringway.lines.filter { $0.contains(" >< ") }.compactMap { object($0)?["sid"] as? String }
        #expect(sids.count == 50 && Set(sids).count == 50)
        #expect(sids.allSatisfy { $0.range(of: "^[0-9a-f]{32}$", options: .regularExpression) != nil })
    }

    @Test func logLevelHidesWhatIsBelowIt() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess([
            "--log-level", "warn", "--workers", "1",
            "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)?proxyProtocol=1",
        ])
        // warn: no "listening" lines, but the warning about a receiving service without
        // trustedProxies is there.
        let warning = ringway.waitForLine(containing: ["proxyProtocol is on without trustedProxies"])
        #expect(warning?.contains("\"level\":\"warn\"") == true)
        #expect(waitForListener(port, seconds: 5))
        try exchange(port)
        // A refused header after it logs a warning: once that is there, any line of the
        // exchange would be too (one worker writes its lines in order).
        try exchange(port, "PROXY NONSENSE\r\n")
        #expect(ringway.waitForLine(containing: ["\"level\":\"warn\"", "invalid PROXY header"]) != nil, "\(ringway.lines)")
        #expect(!ringway.lines.contains { $0.contains("\"level\":\"info\"") || $0.contains("\"level\":\"debug\"") },
                "\(ringway.lines)")
    }

    /// The README: `-D` is debug logging and overrides `--log-level`, whichever comes first.
    @Test(arguments: [["-D", "--log-level", "error"], ["--log-level", "error", "-D"]])
    func debugFlagOverridesTheLogLevel(_ options: [String]) throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(options + ["--workers", "1", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        // Under error, the info line "listening on" would not be written.
        #expect(ringway.waitUntilListening(services: 1, seconds: 5), "\(ringway.lines)")
        try exchange(port)
        let dialing = ringway.waitForLine(containing: [" >> 127.0.0.1:\(echo.port)"], seconds: 5)
        #expect(dialing.flatMap { object($0)?["level"] as? String } == "debug", "\(ringway.lines)")
    }

    /// Two workers writing at once, a few thousand lines: every one a whole JSON object.
    @Test func linesStayWholeUnderConcurrentWorkers() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-D", "--workers", "2", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        #expect(ringway.waitUntilListening(services: 1))
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<150 { try? exchange(port, String(repeating: "y", count: 100)) }
        }
        #expect(becomesTrue(within: 10) { ringway.lines.filter { $0.contains(" >< ") }.count == 600 })
        let lines = ringway.lines
        #expect(lines.count > 1800)
        let broken = lines.filter { object($0) == nil }
        #expect(broken.isEmpty, "\(broken.count) broken lines, e.g. \(broken.first ?? "")")
    }
}
