import Glibc
import RingwayConfig
import Uring

/// Target health on the connection path: a target every address of which failed counts one
/// failure, and each change of a target's state is logged once, by whichever worker made it.
extension Worker {
    mutating func targetFailed(_ slot: Slot, _ health: TargetHealthView, _ target: Int, lastError: Errno?) {
        guard let transition = health.recordFailure(target, now: now) else { return }
        let cause = lastError.map { $0.rawValue == ETIMEDOUT ? "last: connect timed out" : "last: connect failed: \($0)" }
        logTargetHealth(slot, transition, target: target, cause: cause ?? "last: no address")
    }

    /// `kind: node` lines: warn when a target is marked down, info when it is back.
    mutating func logTargetHealth(_ slot: Slot, _ transition: TargetTransition, target: Int, cause: String) {
        guard let group = models.healthGroups[Int(slot.connection.pointee.model)], target < group.count else { return }
        let level: LogLevel = transition == .up ? .info : .warn
        guard log.enabled(level) else { return }
        let message = group.message(transition, target: target, cause: cause)
        log.write(level) { line in
            line.targetFields(group, target)
            if case .down(let failures) = transition { line.field("failures", UInt64(failures)) }
            line.field("msg", message)
        }
    }
}
