import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// Which upstream a connection goes to: targets in turn (round robin per worker, from the first),
/// a target's addresses in the order written (127.0.0.1 before ::1 for an empty host), each
/// target tried once when connects fail.
@Suite("Target choice", .serialized)
struct TargetChoiceTests {
    /// An upstream that answers every connection with its own name.
    func namedUpstream(_ name: String) throws -> ScriptedUpstream {
        try ScriptedUpstream { fd, _ in
            try? Sockets.sendAll(fd, name)
            shutdown(fd, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(fd)
            close(fd)
        }
    }

    func answer(port: UInt16) throws -> String {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        shutdown(client, Int32(SHUT_WR))
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    func service(targets: [TargetAddress]) -> ServiceConfig {
        ServiceConfig(
            name: "service-0", kind: .forward, listen: ListenAddress(host: .v4(.loopback), port: 0), targets: targets,
            connectTimeout: .seconds(2))
    }

    func target(_ port: UInt16, _ addresses: [IPAddress] = [.v4(.loopback)]) -> TargetAddress {
        TargetAddress(host: "127.0.0.1", port: port, resolved: addresses.map { IPEndpoint(address: $0, port: port) })
    }

    @Test func connectionsGoRoundRobinFromTheFirstTarget() throws {
        let upstreams = try ["a", "b", "c"].map(namedUpstream)
        defer { upstreams.forEach { $0.stop() } }
        let relay = try RelayFixture([service(targets: upstreams.map { target($0.port) })])
        defer { relay.stop() }
        let order = try (0..<6).map { _ in try answer(port: relay.port) }
        #expect(order == ["a", "b", "c", "a", "b", "c"])
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 0)
    }

    /// GOST dials an empty host as the local machine; with an IPv4-only upstream, ::1 must not
    /// take every other connection (it used to: a refused connect each time).
    @Test func anEmptyHostTriesIPv4LoopbackFirst() throws {
        let upstream = try namedUpstream("v4")
        defer { upstream.stop() }
        let local = TargetAddress(host: "", port: upstream.port, resolved: [
            IPEndpoint(address: .v4(.loopback), port: upstream.port), IPEndpoint(address: .v6(.loopback), port: upstream.port),
        ])
        let relay = try RelayFixture([service(targets: [local])], workers: 2)
        defer { relay.stop() }
        for _ in 0..<8 { #expect(try answer(port: relay.port) == "v4") }
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 0)
    }

    /// A target's addresses are tried in order before the next target.
    @Test func aTargetsNextAddressComesBeforeTheNextTarget() throws {
        let (first, second) = (try namedUpstream("first"), try namedUpstream("second"))
        defer { first.stop(); second.stop() }
        let dead = try closedPort()
        // Target 0: a dead address, then the first upstream (same host, two ports stand in for
        // two addresses). Target 1: the second upstream.
        var twoAddresses = target(first.port)
        twoAddresses.resolved = [IPEndpoint(address: .v4(.loopback), port: dead), IPEndpoint(address: .v4(.loopback), port: first.port)]
        let relay = try RelayFixture([service(targets: [twoAddresses, target(second.port)])])
        defer { relay.stop() }
        #expect(try answer(port: relay.port) == "first")
        #expect(try answer(port: relay.port) == "second")
        #expect(relay.metric("ringway_upstream_connect_failures_total") == 1)
    }

    /// Every target dead: each is tried exactly once, then the client is closed.
    @Test func whenEveryTargetIsDeadEachIsTriedOnce() throws {
        let dead = try (0..<3).map { _ in try closedPort() }
        let relay = try RelayFixture([service(targets: dead.map { target($0) })])
        defer { relay.stop() }
        for round in 1...2 {
            #expect(try answer(port: relay.port) == "")
            #expect(relay.eventually { relay.closes("upstream_unavailable") == UInt64(round) })
            #expect(relay.metric("ringway_upstream_connect_failures_total") == UInt64(3 * round))
        }
    }
}
