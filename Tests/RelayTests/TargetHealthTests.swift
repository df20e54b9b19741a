import Foundation
import ProxyProtocol
@testable import Relay
import RingwayConfig
import Synchronization
import Testing
import Uring

/// The marking state machine of `TargetHealthView`, with the clock in the test's hands: counts,
/// reset on success, the skip until failTimeout and the one trial after it, every target down,
/// transitions reported once however many threads race, state carried over a reload, and the
/// metric series.
@Suite("Target health")
struct TargetHealthTests {
    static func group(
        targets: [String] = ["10.0.0.1:80", "10.0.0.2:80"], maxFails: Int = 3, failTimeout: Duration = .milliseconds(300),
        names: [String?]? = nil, service: String = "service-0"
    ) -> TargetHealthGroup {
        let addresses = targets.enumerated().map { index, text in
            let parts = text.split(separator: ":")
            return TargetAddress(
                host: String(parts[0]), port: UInt16(parts[1])!, name: names?[index] ?? nil)
        }
        var config = ServiceConfig(
            name: service, kind: .forward, listen: ListenAddress(host: nil, port: 8080), targets: addresses)
        config.health = TargetHealthConfig(maxFails: maxFails, failTimeout: failTimeout)
        return TargetHealthGroup(config)
    }

    @Test func failuresBelowMaxFailsLeaveTheTargetUpAndTheLastOneMarksItDown() {
        let group = Self.group()
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        #expect(view.recordFailure(0, now: 1000) == nil)
        #expect(view.recordFailure(0, now: 1001) == nil)
        #expect(view.isUp(0) && view.admits(0, now: 1002))
        #expect(view.recordFailure(0, now: 1002) == .down(failures: 3))
        #expect(!view.isUp(0))
        #expect(view.isUp(1), "the other target is not touched")
        #expect(!view.everyTargetDown)
    }

    @Test func aSuccessZeroesTheCount() {
        let group = Self.group()
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        _ = view.recordFailure(0, now: 1000)
        _ = view.recordFailure(0, now: 1000)
        #expect(view.recordSuccess(0) == nil, "it was never down: nothing to announce")
        #expect(view.failures(0) == 0)
        #expect(view.recordFailure(0, now: 1000) == nil)
        #expect(view.recordFailure(0, now: 1000) == nil, "two in a row after the success, not four")
        #expect(view.isUp(0))
    }

    @Test func aDownTargetIsSkippedUntilFailTimeoutThenOneConnectionTriesIt() {
        let group = Self.group(maxFails: 1)
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        #expect(view.recordFailure(0, now: 1000) == .down(failures: 1))
        #expect(!view.admits(0, now: 1000))
        #expect(!view.admits(0, now: 1299), "skipped for the whole failTimeout")
        #expect(view.admits(0, now: 1300), "failTimeout passed: this connection tries it")
        #expect(!view.admits(0, now: 1300), "the others keep skipping it while the trial runs")
        #expect(!view.admits(0, now: 1599))
        #expect(view.admits(0, now: 1600), "a trial that never reported: another one a failTimeout later")
        #expect(!view.isUp(0), "a trial is not a recovery: the target stays down until a success")
    }

    @Test func aFailureWhileDownStartsFailTimeoutAgainWithoutAnotherLine() {
        let group = Self.group(maxFails: 1)
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        #expect(view.recordFailure(0, now: 1000) == .down(failures: 1))
        #expect(view.admits(0, now: 1300))
        #expect(view.recordFailure(0, now: 1310) == nil, "still down: no second transition")
        #expect(!view.admits(0, now: 1609))
        #expect(view.admits(0, now: 1610))
    }

    @Test func aSuccessBringsItBackAtOnceAndOnlyOnce() {
        let group = Self.group(maxFails: 1)
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        _ = view.recordFailure(0, now: 1000)
        #expect(view.recordSuccess(0) == .up)
        #expect(view.isUp(0) && view.admits(0, now: 1001))
        #expect(view.recordSuccess(0) == nil)
        #expect(view.failures(0) == 0)
        #expect(view.downCount.pointee.load(ordering: .relaxed) == 0)
    }

    @Test func everyTargetDownOnlyWhenEachIs() {
        let group = Self.group(maxFails: 1)
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        _ = view.recordFailure(0, now: 1000)
        #expect(!view.everyTargetDown)
        _ = view.recordFailure(1, now: 1000)
        #expect(view.everyTargetDown)
        _ = view.recordFailure(1, now: 1100)
        #expect(view.downCount.pointee.load(ordering: .relaxed) == 2, "a repeated failure is not counted twice")
        _ = view.recordSuccess(1)
        #expect(!view.everyTargetDown)
    }

    /// Workers race on one target: one `down` and one `up`, whatever the interleaving.
    @Test func racingThreadsReportEachTransitionOnce() {
        let group = Self.group(maxFails: 5)
        defer { withExtendedLifetime(group) {} }
        let view = group.view
        let downs = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 200) { _ in
            if view.recordFailure(0, now: 1000) != nil { downs.add(1, ordering: .relaxed) }
        }
        #expect(downs.load(ordering: .relaxed) == 1)
        #expect(view.downCount.pointee.load(ordering: .relaxed) == 1)
        let ups = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 200) { _ in
            if view.recordSuccess(0) != nil { ups.add(1, ordering: .relaxed) }
        }
        #expect(ups.load(ordering: .relaxed) == 1)
        #expect(view.downCount.pointee.load(ordering: .relaxed) == 0)
        let trials = Atomic(0)
        _ = (0..<5).map { _ in view.recordFailure(0, now: 1000) }
        DispatchQueue.concurrentPerform(iterations: 200) { _ in
            if view.admits(0, now: 1300) { trials.add(1, ordering: .relaxed) }
        }
        #expect(trials.load(ordering: .relaxed) == 1, "one trial per failTimeout")
    }

    /// A reload that changes the service keeps the state of targets it keeps (same address and
    /// node name); new targets start up.
    @Test func aReloadKeepsTheStateOfKeptTargets() {
        let before = Self.group(targets: ["10.0.0.1:80", "10.0.0.2:80"], maxFails: 1)
        let after = Self.group(targets: ["10.0.0.2:80", "10.0.0.3:80"], maxFails: 1, names: ["target-1", nil])
        let renamed = Self.group(targets: ["10.0.0.2:80"], maxFails: 1, names: ["web"])
        defer { withExtendedLifetime((before, after, renamed)) {} }
        _ = before.view.recordFailure(1, now: 1000)
        before.view.countConnectFailure(1)
        before.view.countProbeFailure(1)
        after.carryOver(from: before)
        #expect(!after.view.isUp(0), "10.0.0.2:80 (target-1) stays down")
        #expect(after.view.isUp(1), "10.0.0.3:80 is new")
        #expect(after.view.downCount.pointee.load(ordering: .relaxed) == 1)
        #expect(after.view.cells.pointee.connectFailures.load(ordering: .relaxed) == 1)
        #expect(after.view.cells.pointee.probeFailures.load(ordering: .relaxed) == 1)
        // A renamed node is another node.
        renamed.carryOver(from: before)
        #expect(renamed.view.isUp(0))
    }

    @Test func theRegistryCarriesStateByServiceName() {
        let old = ServiceConfig(
            name: "web", kind: .forward, listen: ListenAddress(host: nil, port: 8080),
            targets: [TargetAddress(host: "10.0.0.1", port: 80)])
        let registry = TargetHealthRegistry(services: [old])
        if let group = registry.group(slot: 0) { _ = group.view.recordFailure(0, now: 1000) }
        var moved = old
        moved.listen.port = 9090
        moved.idleTimeout = .seconds(1)
        let kept = registry.makeGroup(for: moved)
        #expect(!kept.view.isUp(0), "the same service at a new address keeps it")
        var other = moved
        other.name = "api"
        let fresh = registry.makeGroup(for: other)
        #expect(fresh.view.isUp(0), "another service's target is another target")
        withExtendedLifetime((kept, fresh)) {}
    }

    @Test func metricsHaveOneSeriesPerTargetWithEscapedLabels() {
        let group = Self.group(
            targets: ["10.0.0.1:80", "10.0.0.1:80", "10.0.0.2:80"], maxFails: 1, names: ["a", "a", "b\"q"],
            service: "web")
        defer { withExtendedLifetime(group) {} }
        _ = group.view.recordFailure(1, now: 1000)
        group.view.countConnectFailure(0)
        group.view.countConnectFailure(1)
        group.view.countProbeFailure(2)
        let text = MetricsSource.renderTargets([group])
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("ringway_target_up{service=\"web\",node=\"a\",target=\"10.0.0.1:80\"} 0"),
                "a node listed twice is one series, down when either entry is")
        #expect(lines.contains("ringway_target_connect_failures_total{service=\"web\",node=\"a\",target=\"10.0.0.1:80\"} 2"))
        #expect(lines.contains("ringway_target_up{service=\"web\",node=\"b\\\"q\",target=\"10.0.0.2:80\"} 1"))
        #expect(lines.contains("ringway_target_probe_failures_total{service=\"web\",node=\"b\\\"q\",target=\"10.0.0.2:80\"} 1"))
        #expect(lines.filter { $0.hasPrefix("ringway_target_up{") }.count == 2)
    }

    // MARK: - On the connection path (scripted kernel)

    static func connectPort(_ request: ScriptedKernel.Request) -> UInt16? {
        if case .ipv4(_, let port)? = request.address?.parts { return port }
        return nil
    }

    static let peer = IPEndpoint(address: IPAddress("192.0.2.7")!, port: 40000)

    static func service(maxFails: Int, failTimeout: Duration = .seconds(10)) -> ServiceConfig {
        var config = scriptedService(targetPorts: [80, 81])
        config.health = TargetHealthConfig(maxFails: maxFails, failTimeout: failTimeout)
        return config
    }

    /// Two workers share one record per target: a refusal on one marks the target down for the
    /// other, whose next client goes straight to the other target.
    @Test func aTargetMarkedDownByOneWorkerIsSkippedByAnother() throws {
        let config = Self.service(maxFails: 1)
        let shared = [TargetHealthGroup(config)]
        let first = try Machine([config], health: shared)
        let second = try Machine([config], health: shared)
        try first.accept(from: Self.peer)
        let refused = try first.take(.connect)
        #expect(Self.connectPort(refused) == 80)
        first.complete(refused, .failure(.connectionRefused))
        try first.complete(.connectTimeout, nil, .failure(.canceled))
        #expect(Self.connectPort(try first.take(.connect)) == 81)
        #expect(!shared[0].view.isUp(0))

        try second.accept(from: Self.peer)
        #expect(Self.connectPort(try second.take(.connect)) == 81, "the second worker's round robin starts at 80, which is down")
    }

    /// A timed-out connect counts like a refused one (the complaint GOST users have).
    @Test func aConnectTimeoutCountsAsAFailure() throws {
        let machine = try Machine([Self.service(maxFails: 1)])
        try machine.accept(from: Self.peer)
        let hung = try machine.take(.connect)
        machine.complete(hung, .failure(.canceled))
        try machine.complete(.connectTimeout, nil, .failure(.timedOut))
        #expect(Self.connectPort(try machine.take(.connect)) == 81)
        try machine.accept(from: Self.peer)
        #expect(Self.connectPort(try machine.take(.connect)) == 81, "81's turn")
        try machine.accept(from: Self.peer)
        #expect(Self.connectPort(try machine.take(.connect)) == 81, "80's turn, but it timed out: skipped")
    }

    /// Below maxFails the target stays in turn; a success in between zeroes the count.
    @Test func aTargetIsSkippedOnlyAfterMaxFailsInARow() throws {
        let machine = try Machine([Self.service(maxFails: 2)])
        func client(startsAt port: UInt16, refused: Bool) throws {
            try machine.accept(from: Self.peer)
            let connect = try machine.take(.connect)
            #expect(Self.connectPort(connect) == port)
            machine.complete(connect, refused ? .failure(.connectionRefused) : .success(0))
            try machine.complete(.connectTimeout, nil, .failure(.canceled))
            if refused { machine.complete(try machine.take(.connect), .success(0)); try machine.complete(.connectTimeout, nil, .failure(.canceled)) }
        }
        try client(startsAt: 80, refused: true)   // 80: one failure
        try client(startsAt: 81, refused: false)
        try client(startsAt: 80, refused: false)  // 80 answers: its count is zero again
        try client(startsAt: 81, refused: false)
        try client(startsAt: 80, refused: true)   // one failure again, not two
        try client(startsAt: 81, refused: false)
        try client(startsAt: 80, refused: true)   // two in a row: down
        try client(startsAt: 81, refused: false)
        try machine.accept(from: Self.peer)
        #expect(Self.connectPort(try machine.take(.connect)) == 81, "80's turn, but it is down")
    }

    /// After failTimeout one client tries the target again; its success brings it back.
    @Test func afterFailTimeoutOneClientTriesAndASuccessBringsItBack() throws {
        let machine = try Machine([Self.service(maxFails: 1, failTimeout: .milliseconds(300))])
        machine.endTurn(at: 10_000)
        try machine.accept(from: Self.peer)
        machine.complete(try machine.take(.connect), .failure(.connectionRefused))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        _ = try machine.take(.connect)  // on to 81
        machine.endTurn(at: 10_299)
        try machine.accept(from: Self.peer)
        #expect(Self.connectPort(try machine.take(.connect)) == 81)
        machine.endTurn(at: 10_300)
        try machine.accept(from: Self.peer)
        let trial = try machine.take(.connect)
        #expect(Self.connectPort(trial) == 80, "failTimeout passed: this client tries 80")
        try machine.accept(from: Self.peer)
        #expect(Self.connectPort(try machine.take(.connect)) == 81, "only one trial at a time")
        machine.complete(trial, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        try machine.accept(from: Self.peer)
        try machine.accept(from: Self.peer)
        let ports = [try machine.take(.connect), try machine.take(.connect)].compactMap(Self.connectPort)
        #expect(Set(ports) == [80, 81], "80 is back in turn")
    }

    /// Every target down: a client tries them all rather than being refused.
    @Test func whenEveryTargetIsDownAClientTriesThemAll() throws {
        let machine = try Machine([Self.service(maxFails: 1)])
        try machine.accept(from: Self.peer)
        for _ in 0..<2 {
            machine.complete(try machine.take(.connect), .failure(.connectionRefused))
            try machine.complete(.connectTimeout, nil, .failure(.canceled))
        }
        machine.cancelPending([.cancel])
        #expect(machine.closes(.upstreamUnavailable) == 1)
        try machine.accept(from: Self.peer)
        let first = try machine.take(.connect)
        machine.complete(first, .failure(.connectionRefused))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        let second = try machine.take(.connect)
        #expect(Set([first, second].compactMap(Self.connectPort)) == [80, 81], "both tried, though both are down")
        machine.complete(second, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        #expect(machine.closes(.upstreamUnavailable) == 1, "the second client was served")
        #expect(shared(machine).isUp(0) != shared(machine).isUp(1), "the one that answered is up again")
    }

    /// The machine's own group stays with its model, so its view stays valid.
    func shared(_ machine: Machine) -> TargetHealthView {
        machine.worker.models.healthGroups[0]!.view
    }
}
