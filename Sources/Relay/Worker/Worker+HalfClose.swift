import Uring

/// A source that sent FIN is read no more, and the bytes going back to it may never come: a
/// reset from it would then go unseen until the idle timeout (or for ever without one). A poll
/// cannot wait for that reset, because io_uring always reports POLLRDHUP, which a FIN has
/// already raised; so while a relaying connection has an ended source, its timer looks at the
/// source's socket error once a second.
extension Worker {
    static var halfCloseCheckMilliseconds: UInt64 { 1000 }

    /// The source of `side` sent FIN. The direction finishes once its bytes are out; the check
    /// starts if the connection goes on. Before relaying only the flag is set: relaying starts
    /// by calling this again.
    mutating func sourceEnded(_ slot: Slot, _ side: Side) {
        slot.direction(side).pointee.sourceClosed = true
        guard case .relaying(let relaying) = slot.connection.pointee.phase else { return }
        if let pipes = relaying.pipes {
            finishSpliceDirectionIfDrained(slot, side, pipes)
        } else {
            finishDirectionIfDrained(slot, side)
        }
        guard case .relaying = slot.connection.pointee.phase else { return }
        let check = now + Self.halfCloseCheckMilliseconds
        if slot.connection.pointee.timerBucket < 0 || slot.connection.pointee.timerDeadline > check {
            timers.schedule(slot.index, deadline: check, in: slab.slots)
        }
    }

    /// A relaying connection's timer: a reset on an ended source, then the idle timeout; set
    /// again for whichever comes next.
    mutating func relayingTimerFired(_ slot: Slot) {
        let connection = slot.connection
        let ended = (inbound: connection.pointee.inbound.sourceClosed, outbound: connection.pointee.outbound.sourceClosed)
        if ended.inbound, let error = kernel.pendingError(of: connection.pointee.clientSocket) {
            failed(slot, side: .inbound, atSource: true, error)
            return
        }
        if ended.outbound, let error = kernel.pendingError(of: connection.pointee.upstreamSocket) {
            failed(slot, side: .outbound, atSource: true, error)
            return
        }
        let idle = service(slot).pointee.idleTimeoutMilliseconds
        if idle > 0 && now >= connection.pointee.lastActivity + idle {
            close(slot, reason: .idleTimeout)
            return
        }
        var deadline = idle > 0 ? connection.pointee.lastActivity + idle : UInt64.max
        if ended.inbound || ended.outbound { deadline = min(deadline, now + Self.halfCloseCheckMilliseconds) }
        if deadline != .max { timers.schedule(slot.index, deadline: deadline, in: slab.slots) }
    }
}
