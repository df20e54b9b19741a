import Synchronization
import Uring

/// What the engine's thread and one worker thread share: a command, the worker's phase, its
/// counters, a reload waiting to be applied, and the eventfd that wakes its ring.
final class WorkerControl: Sendable {
    enum Command: UInt8 {
        case run
        /// Stop accepting; let open connections finish until the drain deadline.
        case drain
        /// Close everything now.
        case stop
    }

    enum Phase: UInt8 {
        case starting
        case running
        case failed
        case finished
    }

    let index: Int
    private let wake: EventCounter
    let counters: CounterBlock
    private let command = Atomic<UInt8>(Command.run.rawValue)
    private let phaseValue = Atomic<UInt8>(Phase.starting.rawValue)
    private let failureText = Mutex<String?>(nil)
    private let reloadMailbox = Mutex<WorkerReload?>(nil)
    /// The generation of the last reload this worker applied (0: the start-up configuration).
    private let appliedGenerationValue = Atomic<Int>(0)
    /// Sockets a successor confirmed it kept; one registry for the engine and every worker.
    let handedOver: HandedOverSockets

    init(index: Int, services: Int, handedOver: HandedOverSockets) throws(Errno) {
        self.index = index
        self.handedOver = handedOver
        self.wake = try EventCounter()
        self.counters = CounterBlock(services: services)
    }

    /// Hands the worker a reload and wakes it; it applies it between two loop turns.
    func post(_ reload: WorkerReload) {
        reloadMailbox.withLock { $0 = reload }
        wake.signal()
    }

    /// The worker's side: the reload waiting, if any (taken once).
    func takeReload() -> WorkerReload? {
        reloadMailbox.withLock { pending in
            defer { pending = nil }
            return pending
        }
    }

    var appliedGeneration: Int { appliedGenerationValue.load(ordering: .acquiring) }

    func acknowledge(generation: Int) {
        appliedGenerationValue.store(generation, ordering: .releasing)
    }

    /// The worker's ring reads this; `request` signals it.
    var wakeDescriptor: Descriptor { wake.descriptor }

    var currentCommand: Command { Command(rawValue: command.load(ordering: .acquiring)) ?? .run }

    /// Raises the command (run < drain < stop; never lowered) and wakes the worker.
    func request(_ newCommand: Command) {
        var current = command.load(ordering: .relaxed)
        while current < newCommand.rawValue {
            let (exchanged, original) = command.compareExchange(
                expected: current, desired: newCommand.rawValue, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        wake.signal()
    }

    var phase: Phase { Phase(rawValue: phaseValue.load(ordering: .acquiring)) ?? .starting }

    func enter(_ phase: Phase) {
        phaseValue.store(phase.rawValue, ordering: .releasing)
    }

    func fail(_ reason: String) {
        failureText.withLock { $0 = reason }
        enter(.failed)
    }

    var failure: String? { failureText.withLock { $0 } }
}

/// Process-wide, per-service-slot state every worker reads and updates: open connections, and
/// for a slot whose service a reload removed, how many workers still hold connections of it.
final class SharedServiceState: @unchecked Sendable {
    let count: Int
    private let active: UnsafeMutablePointer<Atomic<Int>>
    private let holders: UnsafeMutablePointer<Atomic<Int>>

    init(count: Int) {
        self.count = count
        active = .allocate(capacity: max(count, 1))
        holders = .allocate(capacity: max(count, 1))
        for index in 0..<max(count, 1) {
            (active + index).initialize(to: Atomic(0))
            (holders + index).initialize(to: Atomic(0))
        }
    }

    deinit {
        active.deinitialize(count: max(count, 1))
        active.deallocate()
        holders.deinitialize(count: max(count, 1))
        holders.deallocate()
    }

    /// Before a reload that removes `service` is posted: every worker holds it until it has
    /// closed its listener and its last connection of it.
    func retire(_ service: Int, workers: Int) {
        (holders + service).pointee.store(workers, ordering: .releasing)
    }

    /// A worker is done with a removed service.
    func release(_ service: UInt16) {
        (holders + Int(service)).pointee.subtract(1, ordering: .acquiringAndReleasing)
    }

    /// Whether every worker is done with a removed service, so its slot may serve another.
    func isReleased(_ service: Int) -> Bool {
        (holders + service).pointee.load(ordering: .acquiring) <= 0
    }

    /// Open connections of `service` across all workers, after adding `delta`.
    @discardableResult
    func adjustActive(_ service: UInt16, by delta: Int) -> Int {
        (active + Int(service)).pointee.add(delta, ordering: .relaxed).newValue
    }

    func activeConnections(_ service: Int) -> Int {
        (active + service).pointee.load(ordering: .relaxed)
    }

    /// Takes one of `service`'s `limit` places if one is free; the only way a limited service's
    /// count goes up, so workers together never serve more than `limit`.
    func tryAcquire(_ service: UInt16, limit: Int) -> Bool {
        let counter = active + Int(service)
        var current = counter.pointee.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = counter.pointee.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }
}
