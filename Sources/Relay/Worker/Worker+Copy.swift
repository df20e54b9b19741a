import Glibc
import Uring

/// Relaying in copy mode: receive into a provided buffer, send it on, recycle it when the send
/// completes. One receive and one send in flight per direction.
extension Worker {
    /// `reply`: bytes of the scratch chunk owed to the client before anything from upstream (a
    /// proxy's success reply).
    mutating func startCopying(_ slot: Slot, preamble: ByteRange, reply: ByteRange = ByteRange()) {
        let connection = slot.connection
        connection.pointee.phase = .relaying(Relaying(pipes: nil))
        if !reply.isEmpty {
            connection.pointee.outbound.enqueue(PendingSend(buffer: PendingSend.scratch, start: reply.start, end: reply.end))
            startSend(slot, .outbound)
        }
        if !preamble.isEmpty {
            connection.pointee.inbound.enqueue(PendingSend(buffer: PendingSend.scratch, start: preamble.start, end: preamble.end))
            startSend(slot, .inbound)
        } else {
            releaseScratchIfUnused(slot)
        }
        if connection.pointee.inbound.sourceClosed {
            sourceEnded(slot, .inbound)
        } else {
            armReceive(slot, .inbound)
        }
        armReceive(slot, .outbound)
    }

    /// Arms the next receive unless one is in flight, the source ended, the pool is empty, or
    /// the direction already holds its share of buffers (backpressure). The receive is multishot
    /// (armed once, completing per read) until the direction first reaches its limit.
    @inline(__always)
    mutating func armReceive(_ slot: Slot, _ side: Side) {
        let connection = slot.connection
        let flow = slot.direction(side)
        // Not after the connection closed: finishing a direction can free the slot under us.
        // Never beside a peek on the client socket: two reads in flight on one socket complete
        // in any order, and the client's bytes would too.
        guard case .relaying = connection.pointee.phase,
              !flow.pointee.reading, !flow.pointee.sourceClosed, !flow.pointee.waitingForBuffers,
              Int(flow.pointee.count) < settings.buffersPerDirection,
              side == .outbound || !connection.pointee.peeking
        else { return }
        let pool = pools.receivePool
        let multishot = settings.multishotReceive && !flow.pointee.singleShot
        kernel.prepareReceive(
            socket: slot.source(side), bufferGroup: BufferPools.group(pool), pollFirst: flow.pointee.sourceDrained,
            multishot: multishot, userData: slot.userData(.receive, side, pool: pool))
        flow.pointee.reading = true
        flow.pointee.multishot = multishot
        connection.pointee.inflight += 1
    }

    /// `buffer`: the completion's buffer, tagged with its pool.
    mutating func received(_ slot: Slot, _ side: Side, _ completion: Completion, buffer: UInt16?, pool: Pool) {
        let connection = slot.connection
        let flow = slot.direction(side)
        if !completion.hasMore {
            flow.pointee.reading = false
            flow.pointee.multishot = false
            flow.pointee.stopping = false
        }
        switch completion.result {
        case .success(let count) where count > 0:
            guard let buffer else {
                internalError(slot, "a buffer-select receive completed with \(count) bytes but no buffer")
                return
            }
            let send = PendingSend(buffer: buffer, start: 0, end: UInt32(count))
            if flow.pointee.isFull {
                // Only a multishot receive delivers past the limit, before its cancel lands.
                guard pools.spill.append(BufferWaitQueue.key(slot.index, side), send) else {
                    pools.recycle(buffer)
                    internalError(slot, "more received buffers are held than the pools have")
                    return
                }
            } else {
                flow.pointee.enqueue(send)
            }
            flow.pointee.sourceDrained = !completion.socketHasMoreData
            flow.pointee.bytes &+= UInt64(count)
            counters.add(side == .inbound ? .bytesClientToUpstream : .bytesUpstreamToClient,
                         service: connection.pointee.service, UInt64(count))
            connection.pointee.lastActivity = now
            startSend(slot, side)
            if flow.pointee.reading {
                stopMultishotAtLimit(slot, side, pool: pool)
            } else {
                armReceive(slot, side)
            }
        case .success:
            if let buffer { pools.recycle(buffer) }
            sourceEnded(slot, side)
        case .failure(let error) where error == .noBuffers:
            if let buffer { pools.recycle(buffer) }
            bufferPoolEmpty(slot, side, pool: pool)
        case .failure(let error) where error == .canceled:
            // While relaying only the limit cancels a receive (closing cancels in .closing): the
            // direction goes on single-shot once its queue has room.
            if let buffer { pools.recycle(buffer) }
            armReceive(slot, side)
        case .failure(let error):
            if let buffer { pools.recycle(buffer) }
            failed(slot, side: side, atSource: true, error)
        }
    }

    /// Backpressure for a multishot receive: at the direction's limit it is cancelled (what it
    /// posts before the cancel lands is queued or spilled, never dropped) and the direction
    /// receives single-shot from then on.
    @inline(__always)
    private mutating func stopMultishotAtLimit(_ slot: Slot, _ side: Side, pool: Pool) {
        let flow = slot.direction(side)
        guard Int(flow.pointee.count) >= settings.buffersPerDirection, !flow.pointee.stopping else { return }
        flow.pointee.stopping = true
        flow.pointee.singleShot = true
        kernel.prepareCancel(target: slot.userData(.receive, side, pool: pool), userData: slot.userData(.cancel, side))
        slot.connection.pointee.inflight += 1
        counters.add(.multishotStops, service: slot.connection.pointee.service)
    }

    /// The pool is empty, not the socket. A main pool at its limit hands over to the reserve at
    /// once; otherwise the direction waits: buffers usually come back within a loop turn, and the
    /// pools grow at the end of a turn in which none did (`serveBufferWaiters`).
    private mutating func bufferPoolEmpty(_ slot: Slot, _ side: Side, pool: Pool) {
        let flow = slot.direction(side)
        flow.pointee.sourceDrained = false
        pools.noteEmpty(pool)
        if pool == .main && pools.mainAtLimit {
            if !pools.mainExhausted { noteMainPoolExhausted(service: slot.connection.pointee.service) }
            pools.mainExhausted = true
            armReceive(slot, side)
            return
        }
        flow.pointee.waitingForBuffers = true
        counters.add(.bufferWaits, service: slot.connection.pointee.service)
        pools.waiters.append(BufferWaitQueue.key(slot.index, side), in: slab.slots)
        watchSource(slot, side)
    }

    /// While a direction waits for buffers no receive is armed on its source, and one armed
    /// would fail with -ENOBUFS before it saw anything else: a client that resets would hold its
    /// slot and descriptors until buffers return. A poll (POLLERR, POLLHUP and POLLRDHUP are
    /// always reported, nothing else is asked for) watches the source meanwhile.
    private mutating func watchSource(_ slot: Slot, _ side: Side) {
        let flow = slot.direction(side)
        guard !flow.pointee.watchArmed else { return }
        kernel.preparePoll(descriptor: slot.source(side), events: 0, userData: slot.userData(.watch, side))
        flow.pointee.watchArmed = true
        slot.connection.pointee.inflight += 1
    }

    /// The watch fired. Only an error (a reset) ends the connection here: a FIN, or our own
    /// shutdown of the other direction, leaves bytes to relay once buffers return, and the
    /// receive then reads them and the end of stream in order.
    mutating func watchFired(_ slot: Slot, _ side: Side, _ completion: Completion) {
        let flow = slot.direction(side)
        flow.pointee.watchArmed = false
        guard case .success(let events) = completion.result, events & Int32(POLLERR) != 0, flow.pointee.waitingForBuffers
        else { return }
        failed(slot, side: side, atSource: true, kernel.pendingError(of: slot.source(side)) ?? .connectionReset)
    }

    /// Slow readers hold every main buffer: count it, and say so (at most every 10 s).
    private mutating func noteMainPoolExhausted(service: UInt16) {
        counters.add(.bufferPoolExhausted, service: service)
        // Under sustained pressure the pool flips between empty and not many times a second.
        guard now >= pools.lastExhaustionLog + 10_000 else { return }
        pools.lastExhaustionLog = now
        let (capacity, size) = (pools.main.circulationLimit, pools.reserve.bufferSize)
        log.write(.warn) { line in
            line.field("kind", "worker")
            line.field("msg", "all \(capacity) receive buffers are held by connections waiting on slow readers; "
                + "receiving into \(size / 1024) KiB reserve buffers until some return "
                + "(--buffers and --buffer-memory raise the pool)")
        }
    }

    /// Sends the head of the queue unless a send is already in flight on that socket.
    @inline(__always)
    mutating func startSend(_ slot: Slot, _ side: Side) {
        let flow = slot.direction(side)
        guard !flow.pointee.writing, !flow.pointee.isEmpty else { return }
        let item = flow.pointee.first
        let base = item.buffer == PendingSend.scratch ? scratch.base(slot.connection.pointee.scratch) : pools.base(of: item.buffer)
        kernel.prepareSend(
            socket: slot.sink(side), from: base + Int(item.start), length: Int(item.end - item.start),
            userData: slot.userData(.send, side))
        flow.pointee.writing = true
        slot.connection.pointee.inflight += 1
    }

    mutating func sent(_ slot: Slot, _ side: Side, _ completion: Completion) {
        let flow = slot.direction(side)
        flow.pointee.writing = false
        let count: Int32
        switch completion.result {
        case .failure(let error):
            failed(slot, side: side, atSource: false, error)
            return
        case .success(let sent):
            count = sent
        }
        slot.connection.pointee.lastActivity = now
        var item = flow.pointee.first
        item.start += UInt32(count)
        if item.start < item.end {
            // Short send: the rest goes next, before anything queued behind it.
            flow.pointee.first = item
            startSend(slot, side)
            return
        }
        _ = flow.pointee.removeFirst()
        // Spilled buffers wait behind a full queue: the first takes the place just freed.
        if pools.spill.count > 0, let spilled = pools.spill.removeFirst(BufferWaitQueue.key(slot.index, side)) {
            flow.pointee.enqueue(spilled)
        }
        if item.buffer == PendingSend.scratch {
            releaseScratchIfUnused(slot)
        } else {
            pools.recycle(item.buffer)
        }
        if flow.pointee.isEmpty {
            finishDirectionIfDrained(slot, side)
        } else {
            startSend(slot, side)
        }
        armReceive(slot, side)
    }

    /// Half-close: once the source has ended and every byte reached the sink, the sink gets FIN
    /// while the other direction keeps going.
    mutating func finishDirectionIfDrained(_ slot: Slot, _ side: Side) {
        let flow = slot.direction(side)
        guard flow.pointee.sourceClosed, flow.pointee.isEmpty, !flow.pointee.writing, !flow.pointee.sinkShutdown,
              case .relaying = slot.connection.pointee.phase
        else { return }
        finishDirection(slot, side)
    }

    /// A socket error on one side. Resets travel on: the other side's socket is closed with
    /// SO_LINGER {1, 0}, so its peer sees RST too rather than a clean end.
    mutating func failed(_ slot: Slot, side: Side, atSource: Bool, _ error: Errno) {
        // Which socket failed: the source of this direction, or its sink.
        let clientFailed = (side == .inbound) == atSource
        let reset = error == .connectionReset || error == .brokenPipe
        let reason: CloseReason
        switch (clientFailed, reset) {
        case (true, true): reason = .clientReset
        case (true, false): reason = .clientError
        case (false, true): reason = .upstreamReset
        case (false, false): reason = .upstreamError
        }
        close(slot, reason: reason, errno: error, resetClient: !clientFailed, resetUpstream: clientFailed)
    }

    /// Re-arms receives that hit an empty pool, as many as buffers came back (or were added).
    mutating func serveBufferWaiters() {
        guard pools.waiters.count > 0 else {
            pools.recycledThisTurn = 0
            return
        }
        var budget = pools.recycledThisTurn
        pools.recycledThisTurn = 0
        // Nothing came back this turn: the buffers out are held, not passing through.
        if budget == 0 { budget = pools.grow() }
        while budget > 0, let key = pools.waiters.removeFirst(in: slab.slots) {
            let slot = slab[BufferWaitQueue.slot(of: key)]
            let side = BufferWaitQueue.side(of: key)
            slot.direction(side).pointee.waitingForBuffers = false
            armReceive(slot, side)
            budget -= 1
        }
    }
}
