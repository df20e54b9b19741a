import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Testing
import Uring

/// Reload attacks: each test shows a way a reload breaks what DESIGN.md's Reload section
/// promises (open connections finish on the settings they started with, removed services drain,
/// queues drain, a kept service keeps serving).
@Suite("Reload attacks", .serialized)
struct ReloadAttackTests {
    static let peer = IPEndpoint(address: IPAddress("192.0.2.10")!, port: 40000)

    /// A forwarding service on the scripted kernel listening on 127.0.0.1:`port`, one target at
    /// 10.0.0.2:`targetPort`.
    static func scripted(
        _ name: String, port: UInt16, targetPort: UInt16 = 80, kind: ServiceConfig.Kind = .forward
    ) -> ServiceConfig {
        var config = scriptedService(kind: kind, targetPorts: [targetPort])
        config.name = name
        config.listen = ListenAddress(host: .v4(.loopback), port: port)
        return config
    }

    /// The kernel hands the worker a client on `listener`'s multishot accept (still armed, more
    /// to come), as it does for a connection that completed its handshake before a cancel landed.
    @discardableResult
    static func accept(_ machine: Machine, listener: Int32) throws -> Descriptor {
        machine.collect()
        guard let request = machine.pending.first(where: { $0.userData.verb == .accept && $0.userData.slot == listener }) else {
            Issue.record("no accept armed on listener \(listener); pending: \(machine.pending)")
            throw MachineError.missingRequest
        }
        let socket = machine.kernel.newDescriptor()
        machine.kernel.peers[socket.rawValue] = peer
        machine.worker.handle(Completion(userData: request.userData.packed, result: .success(socket.rawValue), more: true))
        machine.collect()
        return socket
    }

    static func connectPort(_ request: ScriptedKernel.Request) -> UInt16? {
        if case .ipv4(_, let port)? = request.address?.parts { return port }
        return nil
    }

    /// The slab slot of the newest live connection.
    static func newestConnection(_ machine: Machine) -> Slot? {
        var found: Slot?
        for index in 0..<Int32(machine.worker.slab.highWater) where machine.worker.slab[index].connection.pointee.phase.isLive {
            found = machine.worker.slab[index]
        }
        return found
    }

    // MARK: - A removed service's late accepts run on a freed (or reused) model

    /// The removed service's multishot accept stays armed until its cancel lands, and accepts
    /// already in the completion queue are reaped after the reload is applied (the loop applies
    /// it before reaping). handleAccept serves them "like the backlog", but `retire(slot:)` has
    /// already freed the listener's model and `models.add` hands that index to the service the
    /// same reload adds: the late client is relayed to the *added* service's target.
    @Test func aLateAcceptOnARemovedServiceIsRelayedToTheAddedServicesTarget() throws {
        let machine = try Machine([Self.scripted("removed", port: 8080, targetPort: 80)])
        machine.worker.apply(WorkerReload(
            generation: 1,
            added: [.init(slot: 1, config: Self.scripted("added", port: 8081, targetPort: 81), socket: machine.kernel.newDescriptor())],
            changed: [], removed: [0], logLevel: .debug))
        machine.collect()
        #expect(machine.count(.cancel) >= 1, "the removed listener's accept is being cancelled")
        // A client the kernel accepted on the removed listener before the cancel landed.
        try Self.accept(machine, listener: 0)
        let connect = try machine.take(.connect)
        #expect(Self.connectPort(connect) == 80, "a client of the removed service goes to the removed service's target")
        if let slot = Self.newestConnection(machine) {
            #expect(machine.worker.service(slot).pointee.name == "removed", "it runs on the removed service's settings")
        }
    }

    /// The same late accept without a reuse: the connection names a model that `retire(slot:)`
    /// already deinitialized (its strings and arrays released) and runs on it — a use after free
    /// (with a long service name, `logAccepted` reads a freed String) — and a later reload that
    /// adds a service reinitializes that index under the open connection, which then switches
    /// settings mid-flight (a SOCKS/HTTP handshake continues on a plain forwarder's model).
    @Test func aLateAcceptOnARemovedServiceRunsOnAFreedModelThenSwitchesSettings() throws {
        let machine = try Machine([Self.scripted("removed-proxy", port: 8080, kind: .proxy)])
        machine.worker.apply(WorkerReload(generation: 1, added: [], changed: [], removed: [0], logLevel: .debug))
        machine.collect()
        try Self.accept(machine, listener: 0)
        guard let slot = Self.newestConnection(machine) else {
            Issue.record("the late client was not accepted")
            return
        }
        #expect(slot.connection.pointee.phase.name == "handshaking")
        let model = Int(slot.connection.pointee.model)
        #expect(machine.worker.models.configs[model] != nil, "the model of an open connection is never freed")

        // A second reload adds a forwarder: models.add picks the first free index.
        machine.worker.apply(WorkerReload(
            generation: 2,
            added: [.init(slot: 1, config: Self.scripted("added-forward", port: 8081, targetPort: 81), socket: machine.kernel.newDescriptor())],
            changed: [], removed: [], logLevel: .debug))
        machine.collect()
        #expect(slot.connection.pointee.phase.name == "handshaking")
        #expect(machine.worker.service(slot).pointee.kind == .proxy, "a handshaking proxy connection keeps its proxy settings")
        #expect(machine.worker.service(slot).pointee.name == "removed-proxy")
    }

    // MARK: - maxConnections queues of a changed service

    /// A service with maxConnections=1 has a client queued behind the one holding the place. A
    /// reload drops maxConnections (the service is changed, same address): new clients are
    /// served at once, but the queued one waits forever — `startQueuedConnections` returns when
    /// the listener's (new) limit is nil, and nothing else ever takes it off the queue, not even
    /// after the first client leaves.
    @Test func aQueuedClientStartsWhenAReloadLiftsMaxConnections() throws {
        var limited = Self.scripted("limited", port: 8080)
        limited.maxConnections = 1
        let machine = try Machine([limited])
        try Self.accept(machine, listener: 0)
        let first = try machine.take(.connect)
        try Self.accept(machine, listener: 0)
        guard let queued = Self.newestConnection(machine) else {
            Issue.record("no second connection")
            return
        }
        #expect(queued.connection.pointee.phase.name == "queued")

        var unlimited = limited
        unlimited.maxConnections = nil
        machine.worker.apply(WorkerReload(
            generation: 1, added: [], changed: [.init(slot: 0, config: unlimited)], removed: [], logLevel: .debug))
        machine.collect()
        machine.endTurn()
        // Even once the first client has gone (its connect refused, every target tried).
        machine.complete(first, .failure(.connectionRefused))
        machine.cancelPending([.connectTimeout, .cancel])
        machine.endTurn()
        #expect(queued.connection.pointee.phase.name != "queued", "no limit is left to wait for: the queued client starts")
        #expect(machine.worker.limitQueues[0].count == 0)
    }

    // MARK: - Own endpoints

    /// A removed service's listener is still open when the reload recomputes `ownEndpoints` (its
    /// accept is being cancelled), so its address stays "ours" after the socket closes: a proxy
    /// service refuses (target_forbidden) any CONNECT to that port until some later reload.
    @Test func aRemovedServicesPortIsNotForbiddenOnceItsSocketClosed() throws {
        let machine = try Machine([
            Self.scripted("proxy", port: 8080, kind: .proxy), Self.scripted("removed", port: 8081),
        ])
        machine.kernel.locals[machine.listeners[1].rawValue] = IPEndpoint(address: .v4(.loopback), port: 8081)
        machine.worker.apply(WorkerReload(generation: 1, added: [], changed: [], removed: [1], logLevel: .debug))
        machine.collect()
        // The cancel lands: the removed listener's accept ends and its socket closes.
        guard let accept = machine.pending.first(where: { $0.userData.verb == .accept && $0.userData.slot == 1 }) else {
            Issue.record("no accept on the removed listener")
            return
        }
        machine.complete(accept, .failure(.canceled))
        machine.cancelPending([.cancel])
        machine.endTurn()
        #expect(machine.worker.listeners[1].closed || !machine.worker.listeners[1].inUse, "the removed listener closed")
        #expect(!machine.worker.listeners[1].inUse, "and its slot was released")

        try Self.accept(machine, listener: 0)
        try machine.peek(Array("CONNECT 127.0.0.1:8081 HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(machine.has(.connect), "127.0.0.1:8081 is no longer one of the relay's own addresses")
        #expect(machine.closes(.targetForbidden) == 0)
    }

    // MARK: - Metrics

    /// A service that moves to a new address keeps its name: while the old address drains both
    /// slots are summed under the name, but once the old slot is reclaimed (at the next reload,
    /// whether or not the slot is given to another service) its totals drop out of the sum and
    /// `ringway_connections_accepted_total{service="web"}` goes backwards — a counter that
    /// decreases, which Prometheus reads as a reset (and `rate()`/`increase()` as a spike).
    @Test func aMovedServicesCountersNeverGoBackwards() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([forwardService(to: [echo.port], name: "web")])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        try Sockets.sendAll(fd, "hi")
        #expect(try Sockets.receive(fd, exactly: 2) == Array("hi".utf8))
        close(fd)
        #expect(relay.eventually { relay.metric("ringway_connections_closed_total", service: "web") == 1 })

        var moved = relay.engine.services
        moved[0].listen.port = 0
        let summary = try relay.engine.reload(services: moved, logLevel: .info)
        #expect(summary.added == ["web"] && summary.removed == ["web"])
        #expect(relay.metric("ringway_connections_accepted_total", service: "web") == 1)
        #expect(relay.eventually { relay.engine.shared.isReleased(0) }, "the old address has drained")
        // Any later reload (here: nothing changed) reclaims the drained slot.
        _ = try relay.engine.reload(services: relay.engine.services, logLevel: .info)
        #expect(relay.metric("ringway_connections_accepted_total", service: "web") >= 1, "a counter never decreases")
    }

    // MARK: - The resolver

    /// Nothing needs a resolver at start (one forwarder to an address), so the worker has none.
    /// A reload turns that same address into a SOCKS5 proxy (a changed service): names must
    /// resolve. d96d036 only made a resolver for *added* proxy services, so the changed one
    /// answered every name with host unreachable (name_unresolved).
    @Test func aServiceChangedIntoAProxyResolvesNamesThoughNoResolverWasNeededAtStart() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let dns = try FakeDNSServer(["echo.ringway.test": .init(v4: [.loopback])])
        defer { dns.stop() }
        let relay = try RelayFixture([forwardService(to: echo.port)], resolverServers: [dns.address])
        defer { relay.stop() }
        var proxy = proxyService("socks5", .socks5)
        proxy.listen = relay.engine.services[0].listen
        let summary = try relay.engine.reload(services: [proxy], logLevel: .info)
        #expect(summary.changed == ["service-0"])
        let fd = try Sockets.connect(port: relay.port, timeoutSeconds: 5)
        defer { close(fd) }
        try Sockets.sendAll(fd, SOCKS5Bytes.greeting + SOCKS5Bytes.connect(name: "echo.ringway.test", echo.port))
        #expect(try Sockets.receive(fd, exactly: 2) == [5, 0])
        #expect(Array(try Sockets.receive(fd, exactly: 10)[0..<2]) == [5, 0], "succeeded (5,4 is host unreachable)")
        try Sockets.sendAll(fd, "hi")
        #expect(String(decoding: try Sockets.receive(fd, exactly: 2), as: UTF8.self) == "hi")
    }
}
