import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// A reload that changes a service keeps the mark of a target it keeps: no client pays for
/// finding out again that it is dead. A target the reload adds starts up.
@Suite("Target health over reloads", .serialized)
struct TargetHealthReloadTests {
    func named(_ name: String) throws -> ScriptedUpstream {
        try ScriptedUpstream { fd, _ in
            try? Sockets.sendAll(fd, name)
            shutdown(fd, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(fd)
            close(fd)
        }
    }

    func answer(_ port: UInt16) throws -> String {
        let client = try Sockets.connect(port: port, timeoutSeconds: 5)
        defer { close(client) }
        shutdown(client, Int32(SHUT_WR))
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    @Test func aChangedServiceKeepsTheMarkOfAKeptTarget() throws {
        let dead = try closedPort()
        let alive = try named("alive")
        defer { alive.stop() }
        var service = forwardService(to: [dead, alive.port])
        service.health = TargetHealthConfig(maxFails: 1, failTimeout: .seconds(60))
        let relay = try RelayFixture([service])
        defer { relay.stop() }
        #expect(try answer(relay.port) == "alive")
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 1)

        var changed = service
        changed.listen.port = relay.port
        changed.idleTimeout = .seconds(30)
        let extra = try closedPort()
        changed.targets.append(TargetAddress(
            host: "127.0.0.1", port: extra, resolved: [IPEndpoint(address: .v4(.loopback), port: extra)]))
        let summary = try relay.engine.reload(services: [changed], logLevel: .info)
        #expect(summary.changed == ["service-0"])
        let text = relay.engine.metricsText()
        #expect(text.contains("ringway_target_up{service=\"service-0\",node=\"target-0\",target=\"127.0.0.1:\(dead)\"} 0"),
                "the dead target is still marked down")
        #expect(text.contains("ringway_target_connect_failures_total{service=\"service-0\",node=\"target-0\",target=\"127.0.0.1:\(dead)\"} 1"),
                "and its counter went on")
        #expect(text.contains("ringway_target_up{service=\"service-0\",node=\"target-2\",target=\"127.0.0.1:\(extra)\"} 1"),
                "the added target starts up")
        // Three clients: the round robin starts at each target once; the dead one is skipped,
        // the added one (refusing) is tried and marked.
        for _ in 0..<3 { #expect(try answer(relay.port) == "alive") }
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 2, "only the added target's first refusal")
    }
}
