import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Stop signals, as the README describes them: the first drains (stop accepting, let open
/// connections finish until --drain-timeout, then close them as drain_deadline), a second one
/// closes everything at once; SIGTERM and SIGINT alike (SIGHUP reloads: ReloadEndToEndTests).
@Suite("Drain on signals", .serialized)
struct DrainTests {
    struct Signal: CustomTestStringConvertible, Sendable {
        let number: Int32
        let name: String
        var testDescription: String { name }
    }

    static let signals = [Signal(number: SIGTERM, name: "SIGTERM"), Signal(number: SIGINT, name: "SIGINT")]

    /// A relay to an echo upstream with one idle client connected through it.
    func relayWithIdleClient(drainTimeout: String) throws -> (RingwayProcess, client: Int32, port: UInt16, echo: ScriptedUpstream) {
        let echo = try ScriptedUpstream.echo()
        let port = try freePort()
        let ringway = try RingwayProcess([
            "--workers", "1", "--drain-timeout", drainTimeout, "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)",
        ])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        let client = try Sockets.connect(port: port, timeoutSeconds: 15)
        try Sockets.sendAll(client, "hi")
        #expect(try Sockets.receive(client, exactly: 2) == Array("hi".utf8))
        return (ringway, client, port, echo)
    }

    /// "1" is bare seconds, as GOST reads durations: the same one second as "1s".
    @Test(arguments: signals, ["1s", "1"])
    func theDrainTimeoutEndsWhatIsStillOpen(_ signal: Signal, drainTimeout: String) throws {
        let (ringway, client, port, echo) = try relayWithIdleClient(drainTimeout: drainTimeout)
        defer { echo.stop(); close(client) }
        let started = monotonicSeconds()
        ringway.signal(signal.number)
        #expect(ringway.waitForLine(containing: ["draining: stopped accepting"]) != nil)
        #expect(refusesConnections(port: port))
        // Still relaying during the drain...
        try Sockets.sendAll(client, "still")
        #expect(try Sockets.receive(client, exactly: 5) == Array("still".utf8))
        // ...until the deadline closes it.
        #expect(closedByRelay(client, withinMilliseconds: 5000))
        let elapsed = monotonicSeconds() - started
        #expect(elapsed >= 0.9 && elapsed < 4, "closed after \(elapsed) s")
        let line = ringway.waitForLine(containing: ["\"reason\":\"drain_deadline\""])
        #expect(line?.contains("\"level\":\"info\"") == true, "\(line ?? "no drain_deadline line")")
        #expect(ringway.waitForExit() == 0)
    }

    @Test func aDrainTimeoutOfZeroClosesAtOnce() throws {
        let (ringway, client, _, echo) = try relayWithIdleClient(drainTimeout: "0")
        defer { echo.stop(); close(client) }
        let started = monotonicSeconds()
        ringway.signal(SIGTERM)
        #expect(closedByRelay(client, withinMilliseconds: 3000))
        #expect(monotonicSeconds() - started < 1.5)
        #expect(ringway.waitForExit() == 0)
        #expect(ringway.lines.contains { $0.contains("\"reason\":\"drain_deadline\"") })
    }

    @Test func aSecondSignalClosesEverything() throws {
        let (ringway, client, _, echo) = try relayWithIdleClient(drainTimeout: "60s")
        defer { echo.stop(); close(client) }
        ringway.signal(SIGTERM)
        #expect(ringway.waitForLine(containing: ["draining: stopped accepting"]) != nil)
        #expect(!closedByRelay(client, withinMilliseconds: 300), "the first signal only drains")
        let started = monotonicSeconds()
        ringway.signal(SIGINT)
        #expect(closedByRelay(client, withinMilliseconds: 3000))
        #expect(monotonicSeconds() - started < 1.5)
        #expect(ringway.waitForExit(seconds: 5) == 0)
    }
}
