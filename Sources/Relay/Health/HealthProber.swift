import RingwayConfig
import Synchronization
import Uring

/// Runs Ringway's active TCP probes on one thread of their own, with its own small ring.
///
/// Why not a worker's ring: probes are few, periodic and in no hurry, and keeping them off the
/// workers keeps them out of the connection slab, the dispatch switch and the workers'
/// descriptors, so they cannot delay a relay completion; a thread that sleeps in its own ring
/// between probes costs the workers nothing. The thread starts the first time a service has a
/// probe, follows reloads through `update`, and ends at drain or stop.
final class HealthProber: @unchecked Sendable {
    struct Plan: @unchecked Sendable {
        let groups: [TargetHealthGroup]
        let logLevel: LogLevel
    }

    private let wake: EventCounter
    private let posted = Mutex<Plan?>(nil)
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<NamedThread?>(nil)
    private let logOutput: LogOutput

    init(logOutput: LogOutput) throws(Errno) {
        self.logOutput = logOutput
        wake = try EventCounter()
    }

    /// The groups to probe from now on (those without a probe are left alone). Starts the thread
    /// when the first probe appears; after `stop` it does nothing.
    func update(_ groups: [TargetHealthGroup], logLevel: LogLevel) throws(Errno) {
        guard !stopping.load(ordering: .acquiring) else { return }
        let plan = Plan(groups: groups.filter { $0.probe != nil && $0.count > 0 }, logLevel: logLevel)
        posted.withLock { $0 = plan }
        let running = thread.withLock { $0 != nil }
        guard !running else {
            wake.signal()
            return
        }
        guard !plan.groups.isEmpty else { return }
        let started = try NamedThread.spawn(name: "ringway-probe") { [self] in run() }
        thread.withLock { $0 = started }
    }

    /// Asks the thread to end (probes in flight are abandoned, their sockets closed).
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
    }

    func join() {
        let joining = thread.withLock { current -> NamedThread? in
            defer { current = nil }
            return current
        }
        joining?.join()
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func takePlan() -> Plan? { posted.withLock { plan in defer { plan = nil }; return plan } }

    private func run() {
        var loop: ProbeLoop
        do {
            loop = try ProbeLoop(prober: self, wake: wake.descriptor, output: logOutput)
        } catch {
            var log = EventLog(level: .error, output: logOutput)
            log.write(.error) { line in
                line.field("kind", "service")
                line.field("msg", "target probes could not start their ring: \(error); targets are marked by connects only")
            }
            log.flush()
            return
        }
        loop.run()
    }
}
