import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Upstream health against the binary: a refused target is skipped after `maxFails` failures (no
/// further connect attempts), comes back once it listens again and `failTimeout` has passed, and
/// a probe marks a dead target down before any client and up again when it answers; the
/// per-target gauge and the `kind: node` log lines follow.
@Suite("Target health end to end", .serialized)
struct TargetHealthEndToEndTests {
    /// An upstream that greets every connection with its name and closes.
    static func named(_ name: String, port: UInt16 = 0) throws -> ScriptedUpstream {
        try ScriptedUpstream(port: port) { fd, _ in
            try? Sockets.sendAll(fd, name)
            shutdown(fd, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(fd)
            close(fd)
        }
    }

    /// What one client gets from the relay.
    static func answer(_ port: UInt16) throws -> String {
        let client = try Sockets.connect(port: port, timeoutSeconds: 5)
        defer { close(client) }
        shutdown(client, Int32(SHUT_WR))
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    static func metrics(_ port: UInt16) throws -> String {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        try Sockets.sendAll(client, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    /// A target series' value, nil when there is none.
    static func target(_ name: String, node: String, port: UInt16, from text: String) -> UInt64? {
        let key = "\(name){service=\"service-0\",node=\"\(node)\",target=\"127.0.0.1:\(port)\"} "
        return text.split(separator: "\n").first { $0.hasPrefix(key) }.flatMap { UInt64($0.dropFirst(key.count)) }
    }

    static func start(_ query: String, targets: [UInt16], metrics: UInt16) throws -> (RingwayProcess, UInt16) {
        let port = try freePort()
        let list = targets.map { "127.0.0.1:\($0)" }.joined(separator: ",")
        let ringway = try RingwayProcess([
            "--workers", "2", "--metrics", "127.0.0.1:\(metrics)", "-L", "tcp://127.0.0.1:\(port)/\(list)?\(query)",
        ])
        return (ringway, port)
    }

    /// `-O yaml` prints the selector where GOST reads it and the probe keys where Ringway does;
    /// a bad value is one line and exit 2.
    @Test func theKeysPrintBackAndBadValuesAreRefused() throws {
        let printed = try runRingway([
            "-L", "tcp://:8080/10.0.0.1:80,10.0.0.2:80?maxFails=3&failTimeout=45s&probeInterval=2s", "-O", "yaml",
        ])
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stdout.contains("    forwarder:\n      selector:\n        maxFails: 3\n        failTimeout: 45s\n"),
                "\(printed.stdout)")
        #expect(printed.stdout.contains("    metadata:\n      probeInterval: 2s\n"), "\(printed.stdout)")
        let refused = try runRingway(["-L", "tcp://:8080/10.0.0.1:80?probeInterval=10ms", "--check"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "ringway: -L \"tcp://:8080/10.0.0.1:80?probeInterval=10ms\": probeInterval=10ms is not "
            + "valid; expected a duration of at least 100ms, e.g. 5s\n", "\(refused.stderr)")
    }

    /// `maxFails=2`: the dead target is tried twice in all (both workers share its record), then
    /// never again while its (long) failTimeout runs, however many clients come.
    @Test func aRefusingTargetIsSkippedAfterMaxFailsFailures() throws {
        let (dead, metrics) = (try freePort(), try freePort())
        let alive = try Self.named("alive")
        defer { alive.stop() }
        let (ringway, port) = try Self.start("maxFails=2&failTimeout=1m", targets: [dead, alive.port], metrics: metrics)
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        for round in 0..<12 { #expect(try Self.answer(port) == "alive", "round \(round)") }
        let text = try Self.metrics(metrics)
        #expect(Self.target("ringway_target_connect_failures_total", node: "target-0", port: dead, from: text) == 2)
        #expect(Self.target("ringway_target_up", node: "target-0", port: dead, from: text) == 0)
        #expect(Self.target("ringway_target_up", node: "target-1", port: alive.port, from: text) == 1)
        #expect(alive.acceptedCount == 12)
        let down = ringway.waitForLine(containing: ["\"kind\":\"node\"", "\"node\":\"target-0\"", "marked down"])
        #expect(down?.contains("\"level\":\"warn\"") == true && down?.contains("\"failures\":2") == true, "\(down ?? "none")")
        #expect(down?.contains("2 failures in a row") == true && down?.contains("skipped for 1m0s") == true)
    }

    /// `failTimeout=300ms`: once the dead target listens, a client reaches it again after its
    /// failTimeout; the gauge and an info line say it is back.
    @Test func aTargetComesBackAfterFailTimeoutOnceItListens() throws {
        let (returning, metrics) = (try freePort(), try freePort())
        let alive = try Self.named("alive")
        defer { alive.stop() }
        let (ringway, port) = try Self.start(
            "maxFails=1&failTimeout=300ms", targets: [returning, alive.port], metrics: metrics)
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        #expect(try Self.answer(port) == "alive")
        #expect(Self.target("ringway_target_up", node: "target-0", port: returning, from: try Self.metrics(metrics)) == 0)

        let back = try Self.named("back", port: returning)
        defer { back.stop() }
        // Clients until one is served by the returning target (bounded: 200 clients, 10 s).
        let started = monotonicSeconds()
        var reached = false
        for _ in 0..<200 where !reached && monotonicSeconds() - started < 10 {
            reached = try Self.answer(port) == "back"
            if !reached { usleep(20_000) }
        }
        #expect(reached, "the returning target was never tried again")
        #expect(Self.target("ringway_target_up", node: "target-0", port: returning, from: try Self.metrics(metrics)) == 1)
        let up = ringway.waitForLine(containing: ["\"kind\":\"node\"", "\"node\":\"target-0\"", "is up again"])
        #expect(up?.contains("\"level\":\"info\"") == true && up?.contains("connect to 127.0.0.1:\(returning) succeeded") == true,
                "\(up ?? "none")")
    }

    /// `probeInterval=200ms`: the dead target is marked down by a probe before any client comes,
    /// no client ever connects to it, and a probe brings it back once it listens.
    @Test func aProbeMarksADeadTargetDownBeforeAnyClientAndUpWhenItAnswers() throws {
        let (dead, metrics) = (try freePort(), try freePort())
        let alive = try Self.named("alive")
        defer { alive.stop() }
        let (ringway, port) = try Self.start(
            "maxFails=1&failTimeout=5s&probeInterval=200ms&probeTimeout=100ms", targets: [dead, alive.port], metrics: metrics)
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let down = ringway.waitForLine(containing: ["\"kind\":\"node\"", "\"node\":\"target-0\"", "marked down"])
        #expect(down?.contains("last: probe connect to 127.0.0.1:\(dead)") == true, "\(down ?? "none")")
        var text = try Self.metrics(metrics)
        #expect(Self.target("ringway_target_up", node: "target-0", port: dead, from: text) == 0)
        #expect((Self.target("ringway_target_probe_failures_total", node: "target-0", port: dead, from: text) ?? 0) >= 1)
        #expect(Self.target("ringway_target_up", node: "target-1", port: alive.port, from: text) == 1)

        for round in 0..<8 { #expect(try Self.answer(port) == "alive", "round \(round)") }
        text = try Self.metrics(metrics)
        #expect(Self.target("ringway_target_connect_failures_total", node: "target-0", port: dead, from: text) == 0,
                "no client connected to the dead target")

        let back = try Self.named("back", port: dead)
        defer { back.stop() }
        let up = ringway.waitForLine(containing: ["\"kind\":\"node\"", "\"node\":\"target-0\"", "is up again"])
        #expect(up?.contains("probe connect to 127.0.0.1:\(dead) succeeded") == true, "\(up ?? "none")")
        #expect(Self.target("ringway_target_up", node: "target-0", port: dead, from: try Self.metrics(metrics)) == 1)
        var reached = false
        for _ in 0..<8 where !reached { reached = try Self.answer(port) == "back" }
        #expect(reached, "clients reach the target again")
    }
}
