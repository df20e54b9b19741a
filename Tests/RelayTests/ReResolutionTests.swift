import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Synchronization
import Testing

/// A target host name is looked up again on the worker's resolver when its TTL runs out (and
/// when the worker starts), so an upstream that moved (a container restarted on a new address, a
/// DNS failover) is found without a restart. Lookups go to a local DNS server played by the test.
@Suite("Re-resolving target names", .serialized)
struct ReResolutionTests {
    func service(host: String, resolved: IPAddress, port: UInt16) -> ServiceConfig {
        var config = forwardService(to: port, connectTimeout: .seconds(2))
        config.targets = [TargetAddress(host: host, port: port, resolved: [IPEndpoint(address: resolved, port: port)])]
        return config
    }

    enum Exchange: Equatable {
        case echoed([UInt8])
        /// The relay accepted the client and closed it without an answer (no upstream reached).
        case closedByRelay
    }

    /// One exchange through the relay. A relay that does not accept, or neither answers nor
    /// closes, is an error (so "the stale address refuses" cannot pass on a dead relay).
    func echoThrough(_ port: UInt16) throws -> Exchange {
        let client = try Sockets.connect(port: port, timeoutSeconds: 3)
        defer { close(client) }
        try Sockets.sendAll(client, "ping")
        shutdown(client, Int32(SHUT_WR))
        do {
            let answer = try Sockets.receiveAll(client)
            return answer.isEmpty ? .closedByRelay : .echoed(answer)
        } catch let error as SocketError where error.code == ECONNRESET {
            // Closed with our "ping" unread: the kernel resets instead of a FIN.
            return .closedByRelay
        }
    }

    /// Start-up resolved the name to 127.0.0.3, where nothing listens; DNS now says 127.0.0.1,
    /// where the echo server is, with a 1 s TTL: the worker moves over and keeps asking.
    @Test func aNameIsLookedUpAgainAsItsTTLRunsOut() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dns = try FakeDNSServer(["upstream.ringway.test": .init(v4: [.loopback], v4TTL: 1, v6TTL: 1)])
        defer { dns.stop() }
        let stale = IPAddress("127.0.0.3")!
        let relay = try RelayFixture(
            [service(host: "upstream.ringway.test", resolved: stale, port: echo.port)], resolverServers: [dns.address])
        defer { relay.stop() }
        let relayed = try waitFor(seconds: 5, interval: 50_000) { () throws -> Exchange? in
            let exchange = try echoThrough(relay.port)
            return exchange == .closedByRelay ? nil : exchange
        }
        #expect(relayed == .echoed(Array("ping".utf8)))
        #expect(relay.logs.waitForLine(containing: ["upstream.ringway.test:\(echo.port) now resolves to 127.0.0.1:\(echo.port)"]) != nil)
        #expect(becomesTrue(within: 5) { dns.queries("upstream.ringway.test", "A") >= 3 }, "asked again after each 1 s TTL")
    }

    @Test func anAnswerIsKeptForItsTTL() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dns = try FakeDNSServer(["upstream.ringway.test": .init(v4: [.loopback], v4TTL: 300, v6TTL: 300)])
        defer { dns.stop() }
        let relay = try RelayFixture(
            [service(host: "upstream.ringway.test", resolved: .v4(.loopback), port: echo.port)], resolverServers: [dns.address])
        defer { relay.stop() }
        for _ in 0..<5 { #expect(try echoThrough(relay.port) == .echoed(Array("ping".utf8))) }
        usleep(1_500_000)
        #expect(dns.queries("upstream.ringway.test", "A") == 1)
    }

    @Test func aFailingLookupKeepsTheKnownAddresses() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        // NXDOMAIN for every name. Two known addresses: 127.0.0.3 refuses, 127.0.0.1 answers;
        // both must stay in use.
        let dns = try FakeDNSServer([:])
        defer { dns.stop() }
        var config = service(host: "upstream.ringway.test", resolved: .v4(.loopback), port: echo.port)
        config.targets[0].resolved.insert(IPEndpoint(address: IPAddress("127.0.0.3")!, port: echo.port), at: 0)
        let relay = try RelayFixture([config], resolverServers: [dns.address])
        defer { relay.stop() }
        for _ in 0..<4 {
            #expect(try echoThrough(relay.port) == .echoed(Array("ping".utf8)))
        }
        #expect(relay.logs.waitForLine(containing: ["looking up upstream.ringway.test failed", "keeping the known addresses"]) != nil)
        #expect(dns.totalQueries >= 1)
    }

    @Test func literalTargetsAreNeverLookedUp() throws {
        let dns = try FakeDNSServer([:])
        defer { dns.stop() }
        let closed = try closedPort()
        let relay = try RelayFixture([forwardService(to: closed)], resolverServers: [dns.address])
        defer { relay.stop() }
        #expect(try echoThrough(relay.port) == .closedByRelay)
        #expect(relay.logs.waitForLine(containing: ["connect to 127.0.0.1:\(closed)"]) != nil)
        usleep(200_000)
        #expect(dns.totalQueries == 0)
    }
}
