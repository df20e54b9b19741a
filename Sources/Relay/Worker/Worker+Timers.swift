import Glibc
import Uring

/// One timer per connection, on the worker's wheel: what it means depends on the phase.
extension Worker {
    mutating func expireTimers() {
        var index = timers.expire(nowMilliseconds: now, in: slab.slots)
        while index >= 0 {
            let next = slab[index].connection.pointee.timerNext
            slab[index].connection.pointee.timerNext = -1
            timerFired(slab[index])
            index = next
        }
    }

    private mutating func timerFired(_ slot: Slot) {
        switch slot.connection.pointee.phase {
        case .detecting:
            headerTimedOut(slot)
        case .handshaking, .resolving:
            handshakeTimedOut(slot)
        case .negotiating(let negotiating):
            hopFailed(slot, negotiating, errno: Errno(rawValue: ETIMEDOUT), detail: "no answer in time")
        case .serving(let serving):
            servingTimerFired(slot, serving)
        case .relaying:
            relayingTimerFired(slot)
        case .closing(let closing):
            closeStalled(slot, closing)
        case .free, .accepted, .queued, .connecting:
            break
        }
    }
}
