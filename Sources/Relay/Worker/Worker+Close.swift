import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The closing phase and the end of a connection. close() does not cancel io_uring requests
/// (they keep the file open and no FIN leaves), so every request still in flight on a
/// connection's descriptors is cancelled first; the slot is released when the last completion
/// arrives.
extension Worker {
    /// How long a closing connection may wait for its requests before they are pushed harder.
    static var closeStallMilliseconds: UInt64 { 2000 }

    mutating func close(
        _ slot: Slot, reason: CloseReason, errno: Errno? = nil, resetClient: Bool = false, resetUpstream: Bool = false
    ) {
        let connection = slot.connection
        guard connection.pointee.phase.isLive else { return }
        timers.cancel(slot.index, in: slab.slots)
        var closing = Closing(reason: reason, errno: errno)
        var onlySelfCompleting = false
        switch connection.pointee.phase {
        case .queued:
            limitQueues[Int(connection.pointee.service)].remove(slot.index, in: slab.slots)
        case .relaying(let relaying):
            closing.pipes = relaying.pipes
            onlySelfCompleting = relaying.pipes == nil && !hasBlockingRequest(connection)
        case .serving(let serving):
            closing.heapResponse = serving.heapResponse
        default:
            break
        }
        for side in [Side.inbound, Side.outbound] where slot.direction(side).pointee.waitingForBuffers {
            slot.direction(side).pointee.waitingForBuffers = false
            pools.waiters.remove(BufferWaitQueue.key(slot.index, side), in: slab.slots)
        }
        if resetClient && connection.pointee.clientSocket.isValid { kernel.resetOnClose(connection.pointee.clientSocket) }
        if resetUpstream && connection.pointee.upstreamSocket.isValid { kernel.resetOnClose(connection.pointee.upstreamSocket) }
        connection.pointee.phase = .closing(closing)
        guard connection.pointee.inflight > 0 else {
            finishClosing(slot)
            return
        }
        // What is left after a normal end of a copied connection is a shutdown or a connect's
        // linked timeout, which complete by themselves: a cancel per descriptor would only cost
        // (it showed as 3% of the CPU of short connections).
        if !onlySelfCompleting { cancelEverything(slot) }
        // A request the cancel cannot reach would pin the slot and its descriptors for good;
        // the watchdog looks again if the slot is still closing then.
        timers.schedule(slot.index, deadline: now + Self.closeStallMilliseconds, in: slab.slots)
    }

    /// A copy-mode relay request that can wait on a peer for ever: a receive, a send, a peek, a
    /// watch poll. (Shutdowns and a connect's linked timeout complete on their own.)
    private func hasBlockingRequest(_ connection: UnsafeMutablePointer<Connection>) -> Bool {
        connection.pointee.inbound.reading || connection.pointee.inbound.writing || connection.pointee.inbound.watchArmed
            || connection.pointee.outbound.reading || connection.pointee.outbound.writing
            || connection.pointee.outbound.watchArmed || connection.pointee.peeking
    }

    private mutating func cancelEverything(_ slot: Slot) {
        let cancel = slot.userData(.cancel)
        forEachDescriptor(slot) { descriptor in
            kernel.prepareCancelAll(descriptor: descriptor, userData: cancel)
            slot.connection.pointee.inflight += 1
        }
    }

    /// A closing connection still has requests in flight after `closeStallMilliseconds`: cancel
    /// them again and shut its sockets down, which wakes any operation blocked on them inside
    /// the kernel, then check again later. Counted, and logged once per connection.
    mutating func closeStalled(_ slot: Slot, _ closing: Closing) {
        let connection = slot.connection
        counters.add(.closeStalls, service: connection.pointee.service)
        if !closing.stallLogged {
            var logged = closing
            logged.stallLogged = true
            connection.pointee.phase = .closing(logged)
            let (fields, pending) = (logFields(slot), UInt64(connection.pointee.inflight))
            log.write(.warn) { line in
                fields.write(&line)
                line.field("inflight", pending)
                line.field("msg", "closing: requests still in flight after \(Self.closeStallMilliseconds) ms; "
                    + "cancelling them again and shutting the sockets down")
            }
        }
        for socket in [connection.pointee.clientSocket, connection.pointee.upstreamSocket] where socket.isValid {
            kernel.shutdownNow(socket)
        }
        cancelEverything(slot)
        timers.schedule(slot.index, deadline: now + Self.closeStallMilliseconds, in: slab.slots)
    }

    /// Something this code does not expect happened to a connection: say what, and close it
    /// rather than guess what it should do next.
    mutating func internalError(_ slot: Slot, _ what: String) {
        let fields = logFields(slot)
        log.write(.error) { line in
            fields.write(&line)
            line.field("msg", "internal error: \(what); closing the connection")
        }
        close(slot, reason: .internalError)
    }

    /// A direction delivered its last byte: pass the source's FIN on to the sink. When the other
    /// direction has already finished, closing the connection sends this FIN, so no separate
    /// shutdown is needed. The shutdown is a system call, not a ring request: the kernel runs
    /// every ring shutdown on an io-wq thread: a hand-off and two context switches per FIN, measured
    /// in README, Performance.
    mutating func finishDirection(_ slot: Slot, _ side: Side) {
        let connection = slot.connection
        slot.direction(side).pointee.sinkShutdown = true
        if connection.pointee.inbound.sinkShutdown && connection.pointee.outbound.sinkShutdown {
            close(slot, reason: .finished)
            return
        }
        kernel.shutdownWriting(slot.sink(side))
    }

    /// The connection's open descriptors: sockets, and pipes in splice mode.
    private func forEachDescriptor(_ slot: Slot, _ body: (Descriptor) -> Void) {
        let connection = slot.connection
        if connection.pointee.clientSocket.isValid { body(connection.pointee.clientSocket) }
        if connection.pointee.upstreamSocket.isValid { body(connection.pointee.upstreamSocket) }
        let pipes: Pipes?
        switch connection.pointee.phase {
        case .relaying(let relaying): pipes = relaying.pipes
        case .closing(let closing): pipes = closing.pipes
        default: pipes = nil
        }
        if let pipes {
            for descriptor in [pipes.inbound.read, pipes.inbound.write, pipes.outbound.read, pipes.outbound.write] {
                body(descriptor)
            }
        }
    }

    /// Every request has completed: give back buffers and memory, close the descriptors, log,
    /// and free the slot.
    mutating func finishClosing(_ slot: Slot) {
        let connection = slot.connection
        guard case .closing(let closing) = connection.pointee.phase else { return }
        timers.cancel(slot.index, in: slab.slots)
        for side in [Side.inbound, Side.outbound] {
            let flow = slot.direction(side)
            while !flow.pointee.isEmpty {
                let item = flow.pointee.removeFirst()
                if item.buffer != PendingSend.scratch { pools.recycle(item.buffer) }
            }
            if pools.spill.count > 0 {
                while let item = pools.spill.removeFirst(BufferWaitQueue.key(slot.index, side)) { pools.recycle(item.buffer) }
            }
        }
        if connection.pointee.scratch >= 0 { scratch.free(connection.pointee.scratch) }
        closing.heapResponse?.deallocate()
        // Counted before the sockets close: a peer that sees the FIN or RST sees the count.
        let service = connection.pointee.service
        counters.add(.connectionsClosed, service: service)
        counters.addClose(closing.reason, service: service)
        if connection.pointee.holdsServicePlace { shared.adjustActive(service, by: -1) }
        models.release(connection.pointee.model)
        listeners.count(Int(service), -1)
        // On the ring: the closes leave with the next submit, batched with everything else.
        let closeUserData = UserData(.closeDescriptor, slot: -1)
        forEachDescriptor(slot) { descriptor in kernel.prepareClose(descriptor: descriptor, userData: closeUserData) }
        logClose(slot, closing)
        slab.free(slot.index)
    }
}
