import Glibc
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

@Suite("Upstream failures")
struct UpstreamFailureTests {
    @Test func refusedUpstreamClosesTheClientPromptlyAndSaysWhy() throws {
        let relay = try RelayFixture([forwardService(to: try closedPort())])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port, timeoutSeconds: 3)
        defer { close(client) }
        let (bytes, code) = Sockets.receiveOnce(client)
        #expect(bytes.isEmpty && code == 0, "the client sees a clean EOF")
        #expect(relay.logs.waitForLine(containing: ["\"level\":\"warn\"", "Connection refused"]) != nil)
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 1)
        #expect(relay.eventually {
            relay.metric("ringway_connections_closed_by_reason_total", label: "reason=\"upstream_unavailable\"") == 1
        })
    }

    /// An upstream whose accept queue is full drops SYNs: the connect hangs until the timeout.
    @Test func unansweredConnectTimesOut() throws {
        let (port, sockets) = try unansweredPort()
        defer { sockets.forEach { close($0) } }
        let relay = try RelayFixture([forwardService(to: port, connectTimeout: .milliseconds(300))])
        defer { relay.stop() }
        let started = monotonicSeconds()
        let client = try Sockets.connect(port: relay.port, timeoutSeconds: 5)
        defer { close(client) }
        let (bytes, code) = Sockets.receiveOnce(client)
        #expect(bytes.isEmpty && code == 0)
        #expect(monotonicSeconds() - started < 4, "closed after the timeout, not the client's own")
        #expect(relay.logs.waitForLine(containing: ["timed out"]) != nil)
        #expect(relay.metric("ringway_upstream_connect_timeouts_total") == 1)
        // The close says why, at warn, with the errno a timed-out connect stands for.
        #expect(relay.eventually { relay.closes("upstream_unavailable") == 1 })
        let line = relay.logs.waitForLine(containing: ["\"reason\":\"upstream_unavailable\"", " >< "])
        #expect(line?.contains("\"level\":\"warn\"") == true && line?.contains("ETIMEDOUT") == true, "\(line ?? "none")")
    }

    @Test func nextTargetIsTriedWhenOneRefuses() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dead = try closedPort()
        let relay = try RelayFixture([forwardService(to: [dead, echo.port])])
        defer { relay.stop() }
        // Round-robin starts at a different target per connection: each must end up echoed.
        for round in 0..<4 {
            let client = try Sockets.connect(port: relay.port)
            defer { close(client) }
            try Sockets.sendAll(client, "ping \(round)")
            shutdown(client, Int32(SHUT_WR))
            #expect(String(decoding: try Sockets.receiveAll(client), as: UTF8.self) == "ping \(round)")
        }
        // Round robin from the first target: round 0 starts at the dead one, which marks it down
        // (GOST's default fail filter: one failure, skipped for 10s), so round 2 skips it.
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 1)
    }

    /// Timeouts count as failures (GOST users' complaint: a target that swallows SYNs kept
    /// costing every client a connect timeout). After the first one, clients go straight to the
    /// other target, on both workers.
    @Test func aTargetWhoseConnectsTimeOutIsSkippedByTheNextClients() throws {
        let (port, sockets) = try unansweredPort()
        defer { sockets.forEach { close($0) } }
        let echo = try ScriptedUpstream.echo(greeting: "echo")
        defer { echo.stop() }
        var service = forwardService(to: [port, echo.port], connectTimeout: .milliseconds(300))
        service.health = TargetHealthConfig(maxFails: 1, failTimeout: .seconds(60))
        let relay = try RelayFixture([service], workers: 2)
        defer { relay.stop() }
        for round in 0..<6 {
            let client = try Sockets.connect(port: relay.port, timeoutSeconds: 5)
            defer { close(client) }
            let (bytes, _) = Sockets.receiveOnce(client)
            #expect(String(decoding: bytes, as: UTF8.self) == "echo", "round \(round)")
        }
        #expect(relay.metric("ringway_upstream_connect_timeouts_total") == 1)
        let line = relay.logs.waitForLine(containing: ["\"kind\":\"node\"", "\"node\":\"target-0\"", "marked down"])
        #expect(line?.contains("last: connect timed out") == true, "\(line ?? "none")")
        #expect(line?.contains("\"level\":\"warn\"") == true)
    }
}
