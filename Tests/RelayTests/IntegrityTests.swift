import Glibc
import Relay
import RingwayTestSupport
import Testing

/// Byte-exact relaying under concurrency: many connections, random sizes and chunking, both
/// sides half-closing, every byte checked both ways.
@Suite("Relay integrity", .serialized)
struct IntegrityTests {
    struct Mode: CustomTestStringConvertible, Sendable {
        let splice: Bool
        let workers: Int
        var testDescription: String { "\(splice ? "splice" : "copy"), \(workers) worker(s)" }
    }

    static let modes = [Mode(splice: false, workers: 1), Mode(splice: false, workers: 2),
                        Mode(splice: true, workers: 1), Mode(splice: true, workers: 2)]

    func exchanges(count: Int, maxBytes: Int, seed: UInt64) -> [Exchange] {
        var random = SplitMix64(state: seed)
        return (0..<count).map { _ in
            // A quarter are empty in one direction or both: EOF handling gets exercised too.
            let client = random.next() % 8 == 0 ? 0 : random.next(in: 1...maxBytes)
            let server = random.next() % 8 == 0 ? 0 : random.next(in: 1...maxBytes)
            return Exchange(clientBytes: client, serverBytes: server,
                            clientStart: random.next(in: 0...(1 << 20) - 1), serverStart: random.next(in: 0...(1 << 20) - 1))
        }
    }

    @Test(arguments: modes)
    func concurrentExchangesArriveIntact(mode: Mode) throws {
        let driver = try TrafficDriver()
        defer { driver.close() }
        let relay = try RelayFixture([forwardService(to: driver.upstreamPort, splice: mode.splice)], workers: mode.workers)
        defer { relay.stop() }
        let plan = exchanges(count: 200, maxBytes: 3 << 20, seed: mode.splice ? 7 : 3)
        let failures = driver.run(plan, relayPort: relay.port)
        #expect(failures.count == 0, "\(failures.count) failed, first: \(failures.prefix(3))")
        #expect(relay.eventually { relay.engine.activeConnections(service: 0) == 0 })
        #expect(relay.metric("ringway_connections_closed_by_reason_total", label: "reason=\"finished\"") == 200)
        // Every byte went through the relay: 16 bytes of plan plus the stream, each way.
        let upstreamBound = plan.reduce(0) { $0 + 16 + $1.clientBytes }
        let clientBound = plan.reduce(0) { $0 + $1.serverBytes }
        #expect(relay.metric("ringway_bytes_client_to_upstream_total") == UInt64(upstreamBound))
        #expect(relay.metric("ringway_bytes_upstream_to_client_total") == UInt64(clientBound))
    }

    /// A pool far smaller than the demand: receives hit -ENOBUFS and must wait, not end.
    @Test func tinyBufferPoolStillDeliversEverything() throws {
        let driver = try TrafficDriver()
        defer { driver.close() }
        let relay = try RelayFixture([forwardService(to: driver.upstreamPort)], bufferCount: 4, bufferSize: 4096)
        defer { relay.stop() }
        let failures = driver.run(exchanges(count: 50, maxBytes: 512 << 10, seed: 11), relayPort: relay.port)
        #expect(failures.count == 0, "\(failures.count) failed, first: \(failures.prefix(3))")
        #expect(relay.metric("ringway_buffer_waits_total") > 0, "the test should have exhausted the pool")
    }
}
