import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The prober thread's loop: every probed target gets a TCP connect bounded by a linked timeout
/// every `interval` (the first at once), its addresses tried in order as a connection would. A
/// connect that succeeds counts as a success of the target (the socket is closed at once, with
/// a reset so no TIME_WAIT piles up); one whose every address failed counts as one failure,
/// under the same `maxFails` rule as connections. At most `slotCount` probes run at once; a probe
/// is never retried before its next turn.
struct ProbeLoop: ~Copyable {
    static let slotCount = 64
    private static let wakeTag: UInt64 = 3

    private struct Probe {
        let group: TargetHealthGroup
        let target: Int
        let intervalMilliseconds: UInt64
        let timeoutMilliseconds: UInt64
        var nextAt: UInt64
        /// The slot of the probe in flight, or -1.
        var slot = -1
    }

    /// One probe in flight: what it tries and where it is.
    private struct Attempt {
        var group: TargetHealthGroup?
        var target = 0
        var addresses: [IPEndpoint] = []
        var addressIndex = 0
        var socket = Descriptor.none
        /// Completions still to come for the current address (the connect and its timeout).
        var pending = 0
        var outcome: Errno? = nil
        var succeeded = false
        var startedAt: UInt64 = 0
    }

    private let ring: Ring
    private let prober: HealthProber
    private let wake: Descriptor
    private let wakeBuffer: UnsafeMutablePointer<UInt64>
    private var log: EventLog
    private var probes: [Probe] = []
    private var attempts: [Attempt]
    private var freeSlots: [Int]
    /// Per slot, at stable addresses until the kernel has taken the request.
    private let socketAddresses: UnsafeMutablePointer<SocketAddress>
    private let timeouts: UnsafeMutablePointer<Timeout>
    private let completions: UnsafeMutableBufferPointer<Completion>

    init(prober: HealthProber, wake: Descriptor, output: LogOutput) throws(RingSetupError) {
        ring = try Ring(entries: 128, completionEntries: 512)
        self.prober = prober
        self.wake = wake
        wakeBuffer = .allocate(capacity: 1)
        wakeBuffer.initialize(to: 0)
        log = EventLog(level: .info, output: output)
        attempts = Array(repeating: Attempt(), count: Self.slotCount)
        freeSlots = Array((0..<Self.slotCount).reversed())
        socketAddresses = .allocate(capacity: Self.slotCount)
        socketAddresses.initialize(repeating: SocketAddress(), count: Self.slotCount)
        timeouts = .allocate(capacity: Self.slotCount)
        timeouts.initialize(repeating: Timeout(milliseconds: 0), count: Self.slotCount)
        completions = .allocate(capacity: 256)
    }

    deinit {
        for attempt in attempts where attempt.socket.isValid { attempt.socket.closeNow() }
        wakeBuffer.deallocate()
        socketAddresses.deallocate()
        timeouts.deallocate()
        completions.deallocate()
    }

    mutating func run() {
        ring.view.prepareRead(descriptor: wake, into: wakeBuffer, length: 8, userData: Self.wakeTag)
        while !prober.isStopping {
            if let plan = prober.takePlan() { adopt(plan) }
            let now = monotonicMilliseconds()
            startDue(now: now)
            do {
                try ring.view.submitAndWait(timeoutNanoseconds: Int64(waitMilliseconds(now: now)) * 1_000_000)
            } catch {
                log.write(.error) { line in
                    line.field("kind", "service")
                    line.field("msg", "target probes: the ring failed (\(error)); probing again in 1s")
                }
                log.flush()
                usleep(1_000_000)
                continue
            }
            let count = ring.view.reapCompletions(into: completions)
            for index in 0..<count { handle(completions[index]) }
            log.flush()
        }
    }

    /// A new plan: probes of targets already probed keep their schedule, new ones are due now.
    private mutating func adopt(_ plan: HealthProber.Plan) {
        log.level = plan.logLevel
        let now = monotonicMilliseconds()
        var next: [Probe] = []
        for group in plan.groups {
            guard let probe = group.probe else { continue }
            for target in 0..<group.count {
                if let kept = probes.first(where: { $0.group === group && $0.target == target }) {
                    next.append(kept)
                } else {
                    next.append(Probe(
                        group: group, target: target, intervalMilliseconds: max(probe.interval.milliseconds, 1),
                        timeoutMilliseconds: max(probe.timeout.milliseconds, 1), nextAt: now))
                }
            }
        }
        probes = next
    }

    private mutating func startDue(now: UInt64) {
        for index in probes.indices where probes[index].slot < 0 && probes[index].nextAt <= now {
            guard let slot = freeSlots.popLast() else { return }
            probes[index].slot = slot
            let probe = probes[index]
            attempts[slot] = Attempt(
                group: probe.group, target: probe.target, addresses: probe.group.addresses(of: probe.target),
                startedAt: now)
            dial(slot, timeoutMilliseconds: probe.timeoutMilliseconds)
        }
    }

    /// How long to sleep: until the next probe is due (probes in flight wake the ring anyway).
    private func waitMilliseconds(now: UInt64) -> UInt64 {
        let due = probes.lazy.filter { $0.slot < 0 }.map(\.nextAt).min() ?? now + 60_000
        return min(max(due > now ? due - now : 0, 1), 60_000)
    }

    /// Connects the slot's attempt to its current address, or finishes it when there is none.
    private mutating func dial(_ slot: Int, timeoutMilliseconds: UInt64) {
        let attempt = attempts[slot]
        guard attempt.addressIndex < attempt.addresses.count else {
            finish(slot, cause: attempt.addresses.isEmpty ? "probe: no address" : "probe failed")
            return
        }
        let endpoint = attempt.addresses[attempt.addressIndex]
        let socket: Descriptor
        do {
            socket = try Descriptor.tcpSocket(family: endpoint.family)
        } catch {
            // Out of descriptors here says nothing about the target: try again next turn.
            release(slot)
            log.write(.warn) { line in
                line.field("kind", "service")
                line.field("msg", "target probes: no socket (\(error)); the probe of \(endpoint) waits for its next turn")
            }
            return
        }
        socketAddresses[slot] = endpoint.socketAddress
        timeouts[slot] = Timeout(milliseconds: timeoutMilliseconds)
        attempts[slot].socket = socket
        attempts[slot].pending = 2
        attempts[slot].outcome = nil
        attempts[slot].succeeded = false
        ring.view.prepareConnect(
            socket: socket, address: UnsafePointer(socketAddresses + slot), userData: UInt64(slot) << 8 | 1,
            timeout: timeouts + slot, timeoutUserData: UInt64(slot) << 8 | 2)
    }

    private mutating func handle(_ completion: Completion) {
        if completion.userData == Self.wakeTag {
            ring.view.prepareRead(descriptor: wake, into: wakeBuffer, length: 8, userData: Self.wakeTag)
            return
        }
        let slot = Int(completion.userData >> 8)
        guard slot < Self.slotCount, attempts[slot].pending > 0 else { return }
        if completion.userData & 0xff == 1 {
            switch completion.result {
            case .success: attempts[slot].succeeded = true
            case .failure(let error): attempts[slot].outcome = error
            }
        }
        attempts[slot].pending -= 1
        guard attempts[slot].pending == 0 else { return }
        // Both completions are in: the socket and the slot's memory are free.
        let attempt = attempts[slot]
        attempt.socket.resetOnClose()
        attempt.socket.closeNow()
        attempts[slot].socket = .none
        let endpoint = attempt.addresses[attempt.addressIndex]
        if attempt.succeeded {
            finish(slot, cause: "probe connect to \(endpoint) succeeded", success: true)
            return
        }
        let reason = attempt.outcome == .canceled ? "timed out" : attempt.outcome.map { "\($0)" } ?? "failed"
        attempts[slot].addressIndex += 1
        if attempts[slot].addressIndex < attempt.addresses.count, let timeout = probeTimeout(slot) {
            dial(slot, timeoutMilliseconds: timeout)
        } else {
            finish(slot, cause: "last: probe connect to \(endpoint): \(reason)")
        }
    }

    private func probeTimeout(_ slot: Int) -> UInt64? {
        probes.first { $0.slot == slot }?.timeoutMilliseconds ?? attempts[slot].group?.probe.map { max($0.timeout.milliseconds, 1) }
    }

    /// Records the probe's outcome on its target and schedules its next turn.
    private mutating func finish(_ slot: Int, cause: String, success: Bool = false) {
        let attempt = attempts[slot]
        if let group = attempt.group, attempt.target < group.count {
            let view = group.view
            let transition: TargetTransition?
            if success {
                transition = view.recordSuccess(attempt.target)
            } else {
                view.countProbeFailure(attempt.target)
                transition = view.recordFailure(attempt.target, now: monotonicMilliseconds())
            }
            if let transition {
                let level: LogLevel = transition == .up ? .info : .warn
                let message = group.message(transition, target: attempt.target, cause: cause)
                log.write(level) { line in
                    line.targetFields(group, attempt.target)
                    if case .down(let failures) = transition { line.field("failures", UInt64(failures)) }
                    line.field("msg", message)
                }
            }
        }
        release(slot)
    }

    /// Frees the slot and puts its probe's next turn an interval after this one started.
    private mutating func release(_ slot: Int) {
        let attempt = attempts[slot]
        let now = monotonicMilliseconds()
        if let index = probes.firstIndex(where: { $0.slot == slot }) {
            probes[index].slot = -1
            probes[index].nextAt = max(attempt.startedAt + probes[index].intervalMilliseconds, now)
        }
        attempts[slot] = Attempt()
        freeSlots.append(slot)
    }
}
