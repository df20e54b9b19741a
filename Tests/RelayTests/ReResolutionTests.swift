import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Synchronization
import Testing

/// A target host name is looked up again when connects to its addresses fail, so an upstream
/// that moved (a container restarted on a new address, a DNS failover) is found without a restart.
@Suite("Re-resolving target names", .serialized)
struct ReResolutionTests {
    /// A stand-in for the system resolver whose answer the test changes.
    final class FakeResolver: Sendable {
        let answer: Mutex<[IPAddress]>
        let lookups = Mutex<[String]>([])

        init(_ answer: [IPAddress]) { self.answer = Mutex(answer) }

        var function: @Sendable (String) throws(HostLookupError) -> [IPAddress] {
            { (host: String) throws(HostLookupError) -> [IPAddress] in
                self.lookups.withLock { $0.append(host) }
                return self.answer.withLock { $0 }
            }
        }
    }

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

    @Test func aNameIsLookedUpAgainAfterItsAddressStopsAnswering() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        // Start-up resolved the name to 127.0.0.3, where nothing listens on the echo's port;
        // the resolver now answers 127.0.0.1, where the echo server is.
        let resolver = FakeResolver([.v4(.loopback)])
        let stale = IPAddress("127.0.0.3")!
        let relay = try RelayFixture(
            [service(host: "upstream.test", resolved: stale, port: echo.port)], resolveHost: resolver.function)
        defer { relay.stop() }

        #expect(try echoThrough(relay.port) == .closedByRelay, "the stale address should refuse")
        let relayed = try waitFor(seconds: 5, interval: 50_000) { () throws -> Exchange? in
            let exchange = try echoThrough(relay.port)
            return exchange == .closedByRelay ? nil : exchange
        }
        #expect(relayed == .echoed(Array("ping".utf8)))
        #expect(resolver.lookups.withLock { $0 }.first == "upstream.test")
        #expect(relay.logs.waitForLine(containing: ["re-resolved", "now 127.0.0.1:\(echo.port)"]) != nil)
    }

    @Test func aFailingLookupKeepsTheKnownAddresses() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let lookups = Atomic<Int>(0)
        // Two known addresses: 127.0.0.3 refuses, 127.0.0.1 answers. Each refusal asks for a
        // lookup, which fails; both addresses must stay in use.
        var config = service(host: "upstream.test", resolved: .v4(.loopback), port: echo.port)
        config.targets[0].resolved.insert(IPEndpoint(address: IPAddress("127.0.0.3")!, port: echo.port), at: 0)
        let relay = try RelayFixture([config], resolveHost: { (host: String) throws(HostLookupError) -> [IPAddress] in
            lookups.add(1, ordering: .relaxed)
            throw HostLookupError(host: host, reason: "Temporary failure in name resolution")
        })
        defer { relay.stop() }
        for _ in 0..<4 {
            #expect(try echoThrough(relay.port) == .echoed(Array("ping".utf8)))
        }
        #expect(relay.logs.waitForLine(containing: ["re-resolving upstream.test failed", "keeping the known addresses"]) != nil)
        #expect(lookups.load(ordering: .relaxed) >= 1)
    }

    @Test func literalTargetsAreNeverLookedUp() throws {
        let resolver = FakeResolver([.v4(.loopback)])
        let closed = try closedPort()
        let relay = try RelayFixture([forwardService(to: closed)], resolveHost: resolver.function)
        defer { relay.stop() }
        #expect(try echoThrough(relay.port) == .closedByRelay)
        #expect(relay.logs.waitForLine(containing: ["connect to 127.0.0.1:\(closed)"]) != nil)
        usleep(200_000)
        #expect(resolver.lookups.withLock { $0 }.isEmpty)
    }
}
