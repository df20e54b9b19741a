import ProxyProtocol
import RingwayConfig
import Synchronization

/// One target's health, shared by every worker and the prober. Atomics only: a connection reads
/// it with relaxed loads, and writes it only when something changes.
struct TargetHealthCell: ~Copyable {
    /// Failures (connects and probes) since the last success.
    let failures = Atomic<UInt32>(0)
    /// 0 while the target is up. While it is marked down: the monotonic millisecond after which
    /// one connection may try it again.
    let retryAt = Atomic<UInt64>(0)
    /// For the metrics: connect attempts and probes that failed.
    let connectFailures = Atomic<UInt64>(0)
    let probeFailures = Atomic<UInt64>(0)
}

/// What a failure or a success changed.
enum TargetTransition: Equatable {
    /// Marked down after this many failures in a row.
    case down(failures: UInt32)
    case up
}

/// The health state machine over one service's targets, for the connection path: plain pointers
/// and numbers, no ARC, no locks, no allocation. Every worker's model of the service and the
/// prober use the same cells (see `TargetHealthGroup`, which owns them).
///
/// A target is up until `maxFails` failures in a row mark it down (as GOST's fail filter does:
/// dead once the count reaches maxFails). A target marked down is skipped until `failTimeout`
/// after its last failure; then one connection claims a trial and tries it (the claim moves the
/// time on, so the others keep skipping it). A success, of a connection or a probe, brings it
/// back at once and zeroes its count; a failure while it is down starts `failTimeout` again.
struct TargetHealthView: @unchecked Sendable {
    let cells: UnsafeMutablePointer<TargetHealthCell>
    /// Targets marked down now.
    let downCount: UnsafeMutablePointer<Atomic<Int>>
    let count: Int
    let maxFails: UInt32
    let failTimeoutMilliseconds: UInt64

    @inline(__always)
    func isUp(_ target: Int) -> Bool {
        (cells + target).pointee.retryAt.load(ordering: .relaxed) == 0
    }

    /// Every target is marked down: a connection then tries them all, as if none were (a mark is
    /// a guess from past failures; when it leaves nothing, trying beats refusing every client
    /// for failTimeout).
    @inline(__always)
    var everyTargetDown: Bool {
        count > 0 && downCount.pointee.load(ordering: .relaxed) >= count
    }

    /// Whether a connection at `now` may try `target`: it is up, or it is down, its failTimeout
    /// has passed and this caller won the trial.
    @inline(__always)
    func admits(_ target: Int, now: UInt64) -> Bool {
        let cell = cells + target
        let due = cell.pointee.retryAt.load(ordering: .relaxed)
        if due == 0 { return true }
        guard now >= due else { return false }
        return cell.pointee.retryAt.compareExchange(
            expected: due, desired: now + failTimeoutMilliseconds, ordering: .relaxed
        ).exchanged
    }

    /// A connection gave up on `target` (no address of it connected), or a probe failed.
    func recordFailure(_ target: Int, now: UInt64) -> TargetTransition? {
        let cell = cells + target
        let failures = cell.pointee.failures.add(1, ordering: .relaxed).newValue
        guard failures >= maxFails else { return nil }
        let deadline = now + failTimeoutMilliseconds
        var current = cell.pointee.retryAt.load(ordering: .relaxed)
        while true {
            if current == 0 {
                let (exchanged, found) = cell.pointee.retryAt.compareExchange(
                    expected: 0, desired: deadline, ordering: .relaxed)
                if exchanged {
                    downCount.pointee.add(1, ordering: .relaxed)
                    return .down(failures: failures)
                }
                current = found
            } else {
                // Already down: skipped for failTimeout from this failure on.
                guard current < deadline else { return nil }
                let (exchanged, found) = cell.pointee.retryAt.compareExchange(
                    expected: current, desired: deadline, ordering: .relaxed)
                if exchanged { return nil }
                current = found
            }
        }
    }

    /// A connect to `target` (or a probe of it) succeeded. Writes only when there is something
    /// to reset, so busy targets' cells stay shared-clean across workers.
    @inline(__always)
    func recordSuccess(_ target: Int) -> TargetTransition? {
        let cell = cells + target
        if cell.pointee.failures.load(ordering: .relaxed) != 0 { cell.pointee.failures.store(0, ordering: .relaxed) }
        guard cell.pointee.retryAt.load(ordering: .relaxed) != 0 else { return nil }
        guard cell.pointee.retryAt.exchange(0, ordering: .relaxed) != 0 else { return nil }
        downCount.pointee.subtract(1, ordering: .relaxed)
        return .up
    }

    func countConnectFailure(_ target: Int) {
        (cells + target).pointee.connectFailures.add(1, ordering: .relaxed)
    }

    func countProbeFailure(_ target: Int) {
        (cells + target).pointee.probeFailures.add(1, ordering: .relaxed)
    }

    func failures(_ target: Int) -> UInt32 { (cells + target).pointee.failures.load(ordering: .relaxed) }
}

/// The health of one service's targets (as one configuration of it names them), shared by every
/// worker's model of that configuration, the prober and the metrics. It owns the cells; the
/// views handed to the connection path point into them, so it lives as long as any model of its
/// configuration (each worker keeps a reference beside its model) or the engine's registry.
final class TargetHealthGroup: @unchecked Sendable {
    let serviceName: String
    /// Per target, for logs and metric labels: the node name (`target-0`, or the file's name) and
    /// the target as written (`10.0.0.1:80`).
    let nodeNames: [String]
    let targetTexts: [String]
    let probe: TargetProbeConfig?
    let failTimeout: Duration
    let view: TargetHealthView
    /// Where the prober connects: start-up resolution, then what a worker's re-resolution found.
    private let addresses: Mutex<[[IPEndpoint]]>

    init(_ service: ServiceConfig) {
        serviceName = service.name
        let prefix = service.chain.isEmpty ? "target" : "node"
        nodeNames = service.targets.enumerated().map { $0.element.name ?? "\(prefix)-\($0.offset)" }
        targetTexts = service.targets.map(\.description)
        probe = service.health.probe
        failTimeout = service.health.failTimeout
        let cells = UnsafeMutablePointer<TargetHealthCell>.allocate(capacity: max(service.targets.count, 1))
        for index in 0..<service.targets.count { (cells + index).initialize(to: TargetHealthCell()) }
        let downCount = UnsafeMutablePointer<Atomic<Int>>.allocate(capacity: 1)
        downCount.initialize(to: Atomic(0))
        view = TargetHealthView(
            cells: cells, downCount: downCount, count: service.targets.count,
            maxFails: UInt32(clamping: max(service.health.maxFails, 1)),
            failTimeoutMilliseconds: max(service.health.failTimeout.milliseconds, 1))
        addresses = Mutex(service.targets.map(\.resolved))
    }

    deinit {
        view.cells.deinitialize(count: view.count)
        view.cells.deallocate()
        view.downCount.deinitialize(count: 1)
        view.downCount.deallocate()
    }

    var count: Int { view.count }

    /// Each target's state and counts taken over from `previous` (a configuration of the same
    /// service before a reload) where a target with the same address and name is kept: a target
    /// marked down stays down, and its counters do not go back to zero. Before anyone uses it.
    func carryOver(from previous: TargetHealthGroup) {
        var taken = Set<Int>()
        var down = 0
        for target in 0..<count {
            guard let old = (0..<previous.count).first(where: {
                !taken.contains($0) && previous.targetTexts[$0] == targetTexts[target] && previous.nodeNames[$0] == nodeNames[target]
            }) else { continue }
            taken.insert(old)
            let from = previous.view.cells + old
            let to = view.cells + target
            to.pointee.failures.store(from.pointee.failures.load(ordering: .relaxed), ordering: .relaxed)
            let retryAt = from.pointee.retryAt.load(ordering: .relaxed)
            to.pointee.retryAt.store(retryAt, ordering: .relaxed)
            if retryAt != 0 { down += 1 }
            to.pointee.connectFailures.store(from.pointee.connectFailures.load(ordering: .relaxed), ordering: .relaxed)
            to.pointee.probeFailures.store(from.pointee.probeFailures.load(ordering: .relaxed), ordering: .relaxed)
        }
        view.downCount.pointee.store(down, ordering: .relaxed)
    }

    /// The addresses the prober should try for `target`, in order.
    func addresses(of target: Int) -> [IPEndpoint] {
        addresses.withLock { $0.indices.contains(target) ? $0[target] : [] }
    }

    /// A worker re-resolved `target`'s name: probes follow the new addresses.
    func publish(_ list: [IPEndpoint], for target: Int) {
        addresses.withLock { if $0.indices.contains(target) { $0[target] = list } }
    }

    /// The text of the line that says `target` went down or came back.
    func message(_ transition: TargetTransition, target: Int, cause: String) -> String {
        let who = "\(nodeNames[target]) (\(targetTexts[target]))"
        switch transition {
        case .down(let failures):
            let times = failures == 1 ? "1 failure" : "\(failures) failures in a row"
            return "\(who) marked down after \(times) (\(cause)); skipped for \(failTimeout.goDescription)"
        case .up:
            return "\(who) is up again (\(cause))"
        }
    }
}

extension JSONLine {
    /// The fields of a target's health line, GOST's node logger style: `kind`, `service`, `node`,
    /// and the target as written.
    mutating func targetFields(_ group: TargetHealthGroup, _ target: Int) {
        field("kind", "node")
        field("service", group.serviceName)
        field("node", group.nodeNames[target])
        field("target", group.targetTexts[target])
    }
}
