import Uring

/// The one dispatch. Requests of the worker itself (accepts, the wake-up read, buffer drains)
/// are answered here; a request about a connection goes through `transition`, the single switch
/// over (phase, verb) that names every legal move. The handlers it calls live in one file per
/// phase and receive the slot, never an index to look up again.
extension Worker {
    mutating func handle(_ completion: Completion) {
        guard let data = UserData(packed: completion.userData) else {
            // Not a request of ours: no slot can be trusted to own it, nor a pool any buffer it
            // carries. Keep the process up and say so.
            log.write(.error) { line in
                line.field("kind", "worker")
                line.field("msg", "internal error: completion with unknown user_data \(completion.userData) ignored")
            }
            return
        }
        switch data.verb {
        case .accept:
            handleAccept(listener: Int(data.slot), completion)
            return
        case .wake:
            handleWake()
            return
        case .bufferDrain:
            pools.drained(data.pool, buffer: completion.bufferID)
            return
        case .closeDescriptor:
            return
        case .resolverPoll:
            resolverPolled(data, completion)
            return
        case .cancel where data.slot < 0:
            return
        default:
            break
        }
        // The kernel names a buffer by id only; the pool is in the user_data.
        let buffer = completion.bufferID.map { pools.took($0, from: data.pool) }
        guard let slot = slab.current(data) else {
            // A slot is freed only after its last completion, so this should not happen; if it
            // does, the completion belongs to an earlier occupant and must not touch this one.
            if let buffer { pools.recycle(buffer) }
            return
        }
        // A multishot receive stays in flight until its completion without F_MORE.
        if !completion.hasMore { slot.connection.pointee.inflight -= 1 }
        transition(slot, data, completion, buffer: buffer)
    }

    /// Every legal (phase, verb) pair and what it leads to. Anything else is a bug: logged, and
    /// the connection closed rather than guessed at.
    private mutating func transition(_ slot: Slot, _ data: UserData, _ completion: Completion, buffer: UInt16?) {
        let side = data.side
        switch (slot.connection.pointee.phase, data.verb) {
        case (.closing, _):
            if let buffer { pools.recycle(buffer) }
            if slot.connection.pointee.inflight == 0 { finishClosing(slot) }
        case (.detecting, .peek):
            detectionReceived(slot, completion)
        case (.serving, .peek):
            requestReceived(slot, completion)
        case (.handshaking, .peek):
            handshakeReceived(slot, completion)
        case (.handshaking, .send):
            handshakeReplySent(slot, completion)
        case (.negotiating, .hopSend):
            hopSent(slot, completion)
        case (.negotiating, .hopReceive):
            hopReceived(slot, completion)
        case (.handshaking, .hopSend), (.handshaking, .hopReceive):
            // A hop failed and the client's error reply is on its way: the hop is done with.
            break
        case (.connecting, .peek), (.relaying, .peek):
            earlyBytesReceived(slot, completion)
        case (.connecting(let connecting), .connect):
            connectCompleted(slot, connecting, completion)
        case (_, .connectTimeout), (_, .cancel):
            // The connect's own completion says whether the timeout fired; a cancel has nothing
            // to act on.
            break
        case (.relaying(let relaying), .receive) where relaying.pipes == nil:
            received(slot, side, completion, buffer: buffer, pool: data.pool)
        case (.relaying(let relaying), .send) where relaying.pipes == nil:
            sent(slot, side, completion)
        case (.relaying(let relaying), .watch) where relaying.pipes == nil:
            watchFired(slot, side, completion)
        case (.serving, .send):
            responseSent(slot, completion)
        case (.relaying(let relaying), .spliceFill) where relaying.pipes != nil:
            filled(slot, side, relaying.pipes!, completion)
        case (.relaying(let relaying), .spliceDrain) where relaying.pipes != nil:
            drained(slot, side, relaying.pipes!, completion)
        case (.relaying(let relaying), .pollFill) where relaying.pipes != nil:
            polled(slot, side, relaying.pipes!, fill: true, completion)
        case (.relaying(let relaying), .pollDrain) where relaying.pipes != nil:
            polled(slot, side, relaying.pipes!, fill: false, completion)
        default:
            if let buffer { pools.recycle(buffer) }
            internalError(slot, "a \(data.verb) completion arrived in phase \(slot.connection.pointee.phase.name)")
        }
    }
}

extension Phase {
    /// For logs.
    var name: String {
        switch self {
        case .free: return "free"
        case .accepted: return "accepted"
        case .queued: return "queued"
        case .detecting: return "detecting"
        case .handshaking: return "handshaking"
        case .resolving: return "resolving"
        case .connecting: return "connecting"
        case .negotiating: return "negotiating"
        case .relaying(let relaying): return relaying.pipes == nil ? "relaying (copy)" : "relaying (splice)"
        case .serving: return "serving"
        case .closing: return "closing"
        }
    }
}
