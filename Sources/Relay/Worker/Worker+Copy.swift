import Glibc
import Uring

/// Which way bytes flow: `inbound` is client -> upstream, `outbound` upstream -> client.
enum Side {
    case inbound
    case outbound
}

extension Connection {
    static let inboundOffset = MemoryLayout<Connection>.offset(of: \Connection.inbound)!
    static let outboundOffset = MemoryLayout<Connection>.offset(of: \Connection.outbound)!
}

/// Copy mode: receive into a provided buffer, send it on, recycle it when the send completes.
extension Worker {
    @inline(__always)
    func direction(_ connection: UnsafeMutablePointer<Connection>, _ side: Side) -> UnsafeMutablePointer<Direction> {
        let offset = side == .inbound ? Connection.inboundOffset : Connection.outboundOffset
        return (UnsafeMutableRawPointer(connection) + offset).assumingMemoryBound(to: Direction.self)
    }

    @inline(__always)
    func source(_ connection: UnsafeMutablePointer<Connection>, _ side: Side) -> Int32 {
        side == .inbound ? connection.pointee.clientSocket : connection.pointee.upstreamSocket
    }

    @inline(__always)
    func sink(_ connection: UnsafeMutablePointer<Connection>, _ side: Side) -> Int32 {
        side == .inbound ? connection.pointee.upstreamSocket : connection.pointee.clientSocket
    }

    /// Arms the next receive unless one is in flight, the source ended, the pool is empty, or
    /// the direction already holds its share of buffers (backpressure).
    @inline(__always)
    mutating func armReceive(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        // Not after the connection closed: finishing a direction can free the slot under us.
        // Never beside the early-bytes receive on the client socket: two reads in flight on one
        // socket complete in any order, and the client's bytes would too.
        guard connection.pointee.state == .relaying,
              !flow.pointee.receiveArmed, !flow.pointee.sourceClosed, !flow.pointee.waitingForBuffers,
              Int(flow.pointee.count) < buffersPerDirection,
              side == .outbound || !connection.pointee.scratchReceiveArmed
        else { return }
        let operation: Operation = mainPoolExhausted
            ? (side == .inbound ? .receiveClientFromReserve : .receiveUpstreamFromReserve)
            : (side == .inbound ? .receiveClient : .receiveUpstream)
        ring.prepareReceive(
            socket: source(connection, side),
            bufferGroup: mainPoolExhausted ? Worker.reserveBufferGroup : Worker.bufferGroup,
            pollFirst: flow.pointee.sourceDrained, userData: userData(operation, index))
        flow.pointee.receiveArmed = true
        connection.pointee.inflight += 1
    }

    /// `buffer`: the completion's buffer id, tagged with its pool.
    mutating func handleReceive(
        _ index: Int32, _ side: Side, _ completion: Completion, buffer: UInt16?, fromReserve: Bool
    ) {
        let connection = slab[index]
        let flow = direction(connection, side)
        flow.pointee.receiveArmed = false
        let result = completion.result
        if result > 0 {
            guard let buffer else {
                internalError(index, "a buffer-select receive completed with \(result) bytes but no buffer")
                return
            }
            flow.pointee.enqueue(PendingSend(buffer: buffer, start: 0, end: UInt32(result)))
            flow.pointee.sourceDrained = !completion.socketHasMoreData
            flow.pointee.bytes &+= UInt64(result)
            counters.add(side == .inbound ? .bytesClientToUpstream : .bytesUpstreamToClient,
                         service: connection.pointee.service, UInt64(result))
            connection.pointee.lastActivity = now
            startSend(index, side)
            armReceive(index, side)
            return
        }
        if let buffer { recycle(buffer) }
        if result == 0 {
            flow.pointee.sourceClosed = true
            finishDirectionIfDrained(index, side)
            return
        }
        let error = Errno(rawValue: -result)
        if error == .noBuffers {
            // The pool is empty, not the socket. A main pool at its capacity hands over to the
            // reserve at once; otherwise wait: buffers usually come back within a loop turn, and
            // the pools grow at the end of a turn in which none did (serveBufferWaiters).
            flow.pointee.sourceDrained = false
            if fromReserve { reserveDemand.thisTurn += 1 } else { mainDemand.thisTurn += 1 }
            if !fromReserve && buffers.circulating == buffers.circulationLimit {
                if !mainPoolExhausted { noteMainPoolExhausted(service: connection.pointee.service) }
                mainPoolExhausted = true
                armReceive(index, side)
                return
            }
            flow.pointee.waitingForBuffers = true
            counters.add(.bufferWaits, service: connection.pointee.service)
            bufferWaiters.append(BufferWaitQueue.key(index, side), in: slab.slots)
            watchSource(index, side)
            return
        }
        failed(index, side: side, atSource: true, error)
    }

    /// While a direction waits for buffers no receive is armed on its source, and one armed
    /// would fail with -ENOBUFS before it saw anything else: a client that resets would hold its
    /// slot and descriptors until buffers return. A poll (POLLERR, POLLHUP and POLLRDHUP are
    /// always reported, nothing else is asked for) watches the source meanwhile.
    private mutating func watchSource(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        guard !flow.pointee.watchArmed else { return }
        ring.preparePoll(
            fileDescriptor: source(connection, side), events: 0,
            userData: userData(side == .inbound ? .watchClient : .watchUpstream, index))
        flow.pointee.watchArmed = true
        connection.pointee.inflight += 1
    }

    /// The watch fired. Only an error (a reset) ends the connection here: a FIN, or our own
    /// shutdown of the other direction, leaves bytes to relay once buffers return, and the
    /// receive then reads them and the end of stream in order.
    mutating func handleWatch(_ index: Int32, _ side: Side, _ completion: Completion) {
        let connection = slab[index]
        let flow = direction(connection, side)
        flow.pointee.watchArmed = false
        guard completion.result > 0, completion.result & Int32(POLLERR) != 0, flow.pointee.waitingForBuffers else { return }
        failed(index, side: side, atSource: true, pendingError(on: source(connection, side)) ?? .connectionReset)
    }

    /// Slow readers hold every main buffer: count it, and say so (at most every 10 s).
    private mutating func noteMainPoolExhausted(service: UInt16) {
        counters.add(.bufferPoolExhausted, service: service)
        // Under sustained pressure the pool flips between empty and not many times a second.
        guard now >= lastPoolExhaustionLog + 10_000 else { return }
        lastPoolExhaustionLog = now
        let capacity = buffers.circulationLimit
        let size = reserveBuffers.bufferSize
        log.write(.warn) { line in
            line.field("kind", "worker")
            line.field("msg", "all \(capacity) receive buffers are held by connections waiting on slow readers; "
                + "receiving into \(size / 1024) KiB reserve buffers until some return "
                + "(--buffers and --buffer-memory raise the pool)")
        }
    }

    /// Sends the head of the queue unless a send is already in flight on that socket.
    @inline(__always)
    mutating func startSend(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        guard !flow.pointee.sendInFlight, !flow.pointee.isEmpty else { return }
        let item = flow.pointee.first
        let base: UnsafeMutableRawPointer
        if item.buffer == PendingSend.scratch {
            base = scratch.base(connection.pointee.scratch)
        } else if item.buffer & PendingSend.reserveFlag != 0 {
            base = reserveBuffers.buffer(item.buffer & ~PendingSend.reserveFlag)
        } else {
            base = buffers.buffer(item.buffer)
        }
        ring.prepareSend(
            socket: sink(connection, side), from: base + Int(item.start), length: Int(item.end - item.start),
            userData: userData(side == .inbound ? .sendUpstream : .sendClient, index))
        flow.pointee.sendInFlight = true
        connection.pointee.inflight += 1
    }

    mutating func handleSend(_ index: Int32, _ side: Side, _ completion: Completion) {
        let connection = slab[index]
        let flow = direction(connection, side)
        flow.pointee.sendInFlight = false
        guard completion.result >= 0 else {
            failed(index, side: side, atSource: false, Errno(rawValue: -completion.result))
            return
        }
        connection.pointee.lastActivity = now
        var item = flow.pointee.first
        item.start += UInt32(completion.result)
        if item.start < item.end {
            // Short send: the rest goes next, before anything queued behind it.
            flow.pointee.first = item
            startSend(index, side)
            return
        }
        _ = flow.pointee.removeFirst()
        if item.buffer == PendingSend.scratch {
            releaseScratchIfUnused(index)
        } else {
            recycle(item.buffer)
        }
        if flow.pointee.isEmpty {
            finishDirectionIfDrained(index, side)
        } else {
            startSend(index, side)
        }
        armReceive(index, side)
    }

    /// Half-close: once the source has ended and every byte reached the sink, the sink gets
    /// FIN (shutdown SHUT_WR) while the other direction keeps going. Both done: close.
    mutating func finishDirectionIfDrained(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        guard flow.pointee.sourceClosed, flow.pointee.isEmpty, !flow.pointee.sendInFlight,
              !flow.pointee.sinkShutdown, connection.pointee.state == .relaying
        else { return }
        finishDirection(index, side)
    }

    /// A socket error on one side. Resets travel on: the other side's socket is closed with
    /// SO_LINGER {1, 0}, so its peer sees RST too rather than a clean end.
    mutating func failed(_ index: Int32, side: Side, atSource: Bool, _ error: Errno) {
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
        close(index, reason: reason, errno: error.rawValue, resetClient: !clientFailed, resetUpstream: clientFailed)
    }

    /// Puts more buffers into circulation: the main pool until its capacity, then the reserve.
    /// Returns how many were added.
    private mutating func growPool() -> Int {
        if buffers.circulating < buffers.circulationLimit {
            return buffers.grow(by: max(Worker.initialBuffers, buffers.circulating))
        }
        return reserveBuffers.grow(by: max(16, reserveBuffers.circulating))
    }

    /// Re-arms receives that hit an empty pool, as many as buffers came back (or were added).
    mutating func serveBufferWaiters() {
        guard bufferWaiters.count > 0 else {
            buffersRecycled = 0
            return
        }
        var budget = buffersRecycled
        buffersRecycled = 0
        if budget == 0 {
            // Nothing came back this turn: the buffers out are held, not passing through.
            budget = growPool()
        }
        while budget > 0, let key = bufferWaiters.removeFirst(in: slab.slots) {
            let index = BufferWaitQueue.slot(of: key)
            let side = BufferWaitQueue.side(of: key)
            direction(slab[index], side).pointee.waitingForBuffers = false
            armReceive(index, side)
            budget -= 1
        }
    }
}
