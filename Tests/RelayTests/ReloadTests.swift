import Foundation
import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Synchronization
import Testing

/// An upstream that says its name on connect, then echoes: which settings a connection runs on
/// shows in its first line.
private func taggedEcho(_ tag: String) throws -> ScriptedUpstream {
    try ScriptedUpstream.echo(greeting: tag + "\n")
}

/// Connects through the relay and reads the upstream's tag line.
private func connectTagged(port: UInt16) throws -> (fd: Int32, tag: String) {
    let fd = try Sockets.connect(port: port)
    var line: [UInt8] = []
    while line.last != UInt8(ascii: "\n") {
        let byte = try Sockets.receive(fd, exactly: 1)
        line += byte
        if line.count > 64 { break }
    }
    return (fd, String(decoding: line.dropLast(), as: UTF8.self))
}

/// Sends `count` bytes and expects them back.
private func roundTrip(_ fd: Int32, _ count: Int, seed: UInt8) throws -> Bool {
    let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
    try Sockets.sendAll(fd, bytes)
    return try Sockets.receive(fd, exactly: count) == bytes
}

/// Opens, uses and closes connections to `port` until told to stop, counting what failed.
private final class ClientLoop: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let done = Atomic<Bool>(false)
    let completed = Atomic<Int>(0)
    let failures = Mutex<[String]>([])

    init(port: UInt16, expectedTag: String) {
        let thread = Thread { [self] in
            var round: UInt8 = 0
            while !stopped.load(ordering: .acquiring) {
                round &+= 1
                do {
                    let (fd, tag) = try connectTagged(port: port)
                    defer { close(fd) }
                    guard tag == expectedTag else { throw SocketError(what: "tag \(tag)", code: 0) }
                    guard try roundTrip(fd, 4096, seed: round) else { throw SocketError(what: "echo differs", code: 0) }
                    completed.add(1, ordering: .relaxed)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            done.store(true, ordering: .releasing)
        }
        thread.start()
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        while !done.load(ordering: .acquiring) { usleep(1000) }
    }
}

@Suite("Live reload", .serialized)
struct ReloadTests {
    /// In copy and in splice mode (the removed and changed services' open connections hold pipes).
    @Test(arguments: [false, true])
    func reloadKeepsUnchangedSocketsChangesNewConnectionsAndDrainsRemovedServices(splice: Bool) throws {
        let one = try taggedEcho("one"), two = try taggedEcho("two"), three = try taggedEcho("three")
        defer { one.stop(); two.stop(); three.stop() }
        let services = [
            forwardService(to: [one.port], name: "kept", splice: splice),
            forwardService(to: [two.port], name: "changed", splice: splice),
            forwardService(to: [one.port], name: "removed", splice: splice),
        ]
        let relay = try RelayFixture(services, workers: 2)
        defer { relay.stop() }
        let (keptPort, changedPort, removedPort) = (relay.port(0), relay.port(1), relay.port(2))

        let onChanged = try connectTagged(port: changedPort)
        defer { close(onChanged.fd) }
        let onRemoved = try connectTagged(port: removedPort)
        defer { close(onRemoved.fd) }
        #expect(onChanged.tag == "two" && onRemoved.tag == "one")
        let loop = ClientLoop(port: keptPort, expectedTag: "one")
        #expect(relay.eventually { loop.completed.load(ordering: .relaxed) >= 50 })

        var next = relay.engine.services
        next[1].targets = forwardService(to: three.port).targets
        next.remove(at: 2)
        next.append(forwardService(to: [two.port], name: "added", splice: splice))
        let summary = try relay.engine.reload(services: next, logLevel: .info)
        #expect(summary.added == ["added"] && summary.changed == ["changed"])
        #expect(summary.removed == ["removed"] && summary.kept == ["kept"])

        // The kept service never stopped answering; its loop goes on across the reload.
        let before = loop.completed.load(ordering: .relaxed)
        #expect(relay.eventually { loop.completed.load(ordering: .relaxed) >= before + 50 })
        loop.stop()
        #expect(loop.failures.withLock { $0 }.isEmpty, "\(loop.failures.withLock { $0.prefix(3) })")

        // Open connections finish on the settings they started with.
        #expect(try roundTrip(onChanged.fd, 100_000, seed: 1))
        #expect(try roundTrip(onRemoved.fd, 100_000, seed: 2))
        // New ones get the new settings; the removed service refuses; the added one answers.
        let fresh = try connectTagged(port: changedPort)
        close(fresh.fd)
        #expect(fresh.tag == "three")
        #expect(throws: SocketError.self) { _ = try Sockets.connect(port: removedPort, timeoutSeconds: 1) }
        let addedPort = relay.engine.boundPorts[2]
        let added = try connectTagged(port: addedPort)
        close(added.fd)
        #expect(added.tag == "two")
        #expect(relay.logs.waitForLine(containing: ["reloaded: 1 added (added), 1 changed (changed), 1 removed (removed)"]) != nil)
        #expect(relay.engine.metricsText().contains("ringway_reloads_total{result=\"applied\"} 1"))
        // The removed service's open connection still counts under its name until it ends.
        #expect(relay.metric("ringway_connections_active", service: "removed") == 1)
    }

    /// A client half way through its CONNECT when the proxy's credentials change finishes on the
    /// settings it started with; a new client must present the new ones.
    @Test func aHandshakeInProgressFinishesOnItsSettings() throws {
        let one = try taggedEcho("one")
        defer { one.stop() }
        let relay = try RelayFixture([proxyService("http", .http)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        try Sockets.sendAll(client, "CONNECT 127.0.0.1:\(one.port) HTTP/1.1\r\n")
        #expect(relay.eventually { relay.engine.activeConnections(service: 0) == 1 })
        var next = relay.engine.services
        next[0].credentials = Credentials(user: "alice", password: "s3cret")
        #expect(try relay.engine.reload(services: next, logLevel: .info).changed == ["service-0"])
        try Sockets.sendAll(client, "Host: x\r\n\r\n")
        let reply = String(decoding: try Sockets.receive(client, exactly: 12), as: UTF8.self)
        #expect(reply == "HTTP/1.1 200", "the open handshake needs no credentials: \(reply)")
        let fresh = try Sockets.connect(port: relay.port)
        defer { close(fresh) }
        try Sockets.sendAll(fresh, "CONNECT 127.0.0.1:\(one.port) HTTP/1.1\r\nHost: x\r\n\r\n")
        let refused = String(decoding: try Sockets.receive(fresh, exactly: 12), as: UTF8.self)
        #expect(refused == "HTTP/1.1 407", "a new client needs the new credentials: \(refused)")
    }

    @Test func aRemovedServiceGivesItsConnectionsTheDrainTimeout() throws {
        let one = try taggedEcho("one")
        defer { one.stop() }
        let relay = try RelayFixture(
            [forwardService(to: [one.port], name: "kept"), forwardService(to: [one.port], name: "removed")], drainTimeout: .seconds(1))
        defer { relay.stop() }
        let open = try connectTagged(port: relay.port(1))
        defer { close(open.fd) }
        _ = try relay.engine.reload(services: [relay.engine.services[0]], logLevel: .info)
        #expect(try roundTrip(open.fd, 1000, seed: 3), "still relaying inside the drain timeout")
        #expect(closedByRelay(open.fd, withinMilliseconds: 4000), "closed once the drain timeout passed")
        #expect(relay.eventually { relay.closes("service_removed", service: "removed") == 1 })
    }

    @Test func aReloadThatCannotBindChangesNothing() throws {
        let one = try taggedEcho("one")
        defer { one.stop() }
        let relay = try RelayFixture([forwardService(to: [one.port], name: "kept")])
        defer { relay.stop() }
        // A socket without SO_REUSEPORT holds the port the new service wants.
        let (holder, takenPort) = try Sockets.listen()
        defer { close(holder) }
        var next = relay.engine.services
        next[0].targets = forwardService(to: closedPortOrZero()).targets
        var blocked = forwardService(to: [one.port], name: "blocked")
        blocked.listen.port = takenPort
        next.append(blocked)
        #expect(throws: ReloadError.self) { _ = try relay.engine.reload(services: next, logLevel: .info) }
        // The kept service still runs with its old target, and nothing was added.
        let still = try connectTagged(port: relay.port)
        close(still.fd)
        #expect(still.tag == "one")
        #expect(relay.engine.services.map(\.name) == ["kept"])
        #expect(relay.engine.metricsText().contains("ringway_reloads_total{result=\"refused\"} 1"))
    }

    @Test func aDrainedRemovedSlotServesANewServiceWithFreshCounters() throws {
        let one = try taggedEcho("one")
        defer { one.stop() }
        let relay = try RelayFixture([forwardService(to: [one.port], name: "kept"), forwardService(to: [one.port], name: "gone")])
        defer { relay.stop() }
        let used = try connectTagged(port: relay.port(1))
        close(used.fd)
        #expect(relay.eventually { relay.metric("ringway_connections_closed_total", service: "gone") == 1 })
        _ = try relay.engine.reload(services: [relay.engine.services[0]], logLevel: .info)
        #expect(relay.eventually { relay.engine.shared.isReleased(1) }, "the worker lets go of the drained slot")
        let summary = try relay.engine.reload(
            services: [relay.engine.services[0], forwardService(to: [one.port], name: "fresh")], logLevel: .info)
        #expect(summary.added == ["fresh"])
        let text = relay.engine.metricsText()
        #expect(!text.contains("service=\"gone\""), "a reclaimed slot's series go")
        #expect(relay.metric("ringway_connections_accepted_total", service: "fresh") == 0, "counters start from zero")
        let onFresh = try connectTagged(port: relay.engine.boundPorts[1])
        close(onFresh.fd)
        #expect(onFresh.tag == "one")
        #expect(relay.eventually { relay.metric("ringway_connections_accepted_total", service: "fresh") == 1 })
    }
}

@Suite("Reload summary")
struct ReloadSummaryTests {
    /// A thousand changed services once made a line longer than a log line may be: it lost its
    /// message.
    @Test func longListsNameAFewAndCountTheRest() {
        var summary = ReloadSummary(generation: 2)
        summary.changed = (0..<1000).map { "service-\($0)" }
        summary.added = ["api"]
        #expect(summary.description
            == "1 added (api), 1000 changed (service-0, service-1, service-2, service-3, service-4, and 995 more), 0 unchanged")
    }
}

/// A port with nothing behind it (the old target must not be what answers after a failed reload).
private func closedPortOrZero() -> UInt16 { (try? closedPort()) ?? 1 }
