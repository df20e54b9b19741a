import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

extension Worker {
    /// Ends a connection. close() does not cancel io_uring requests (they keep the file open and
    /// no FIN leaves), so every request still in flight on its sockets is canceled first; the
    /// slot is released when the last completion arrives.
    mutating func close(
        _ index: Int32, reason: CloseReason, errno: Int32 = 0, resetClient: Bool = false, resetUpstream: Bool = false
    ) {
        let connection = slab[index]
        guard connection.pointee.state != .closing, connection.pointee.state != .free else { return }
        timers.cancel(index, in: slab.slots)
        if connection.pointee.state == .queued {
            limitQueues[Int(connection.pointee.service)].remove(index, in: slab.slots)
        }
        for side in [Side.inbound, Side.outbound] where direction(connection, side).pointee.waitingForBuffers {
            direction(connection, side).pointee.waitingForBuffers = false
            bufferWaiters.remove(BufferWaitQueue.key(index, side), in: slab.slots)
        }
        connection.pointee.closeReason = reason
        connection.pointee.closeErrno = errno
        if resetClient && connection.pointee.clientSocket >= 0 { armResetOnClose(connection.pointee.clientSocket) }
        if resetUpstream && connection.pointee.upstreamSocket >= 0 { armResetOnClose(connection.pointee.upstreamSocket) }
        connection.pointee.state = .closing
        guard connection.pointee.inflight > 0 else {
            finishClosing(index)
            return
        }
        cancelEverything(index)
        // A request the cancel cannot reach would pin the slot and its descriptors for good;
        // the watchdog below looks again if the slot is still closing then.
        timers.schedule(index, deadline: now + Worker.closeStallMilliseconds, in: slab.slots)
    }

    /// How long a closing connection may wait for its requests before they are pushed harder.
    static let closeStallMilliseconds: UInt64 = 2000

    private mutating func cancelEverything(_ index: Int32) {
        let connection = slab[index]
        let cancelUserData = userData(.cancel, index)
        forEachDescriptor(connection) { descriptor in
            ring.prepareCancelAll(socket: descriptor, userData: cancelUserData)
            connection.pointee.inflight += 1
        }
    }

    /// A closing connection still has requests in flight after `closeStallMilliseconds`: cancel
    /// them again and shut its sockets down, which wakes any operation blocked on them inside
    /// the kernel, then check again later. Counted, and logged once per connection.
    private mutating func closeStalled(_ index: Int32) {
        let connection = slab[index]
        counters.add(.closeStalls, service: connection.pointee.service)
        if !connection.pointee.closeStallLogged {
            connection.pointee.closeStallLogged = true
            let (fields, pending) = (logFields(index), UInt64(connection.pointee.inflight))
            log.write(.warn) { line in
                fields.write(&line)
                line.field("inflight", pending)
                line.field("msg", "closing: requests still in flight after \(Worker.closeStallMilliseconds) ms; "
                    + "cancelling them again and shutting the sockets down")
            }
        }
        for socket in [connection.pointee.clientSocket, connection.pointee.upstreamSocket] where socket >= 0 {
            _ = Glibc.shutdown(socket, Int32(SHUT_RDWR))
        }
        cancelEverything(index)
        timers.schedule(index, deadline: now + Worker.closeStallMilliseconds, in: slab.slots)
    }

    /// Something this code does not expect happened to a connection: say what, and close it
    /// rather than guess what it should do next.
    mutating func internalError(_ index: Int32, _ what: String) {
        let fields = logFields(index)
        log.write(.error) { line in
            fields.write(&line)
            line.field("msg", "internal error: \(what); closing the connection")
        }
        close(index, reason: .internalError)
    }

    /// A direction delivered its last byte: pass the source's FIN on to the sink. When the other
    /// direction has already finished, closing the connection sends this FIN, so no separate
    /// shutdown is needed.
    mutating func finishDirection(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        direction(connection, side).pointee.sinkShutdown = true
        if connection.pointee.inbound.sinkShutdown && connection.pointee.outbound.sinkShutdown {
            close(index, reason: .finished)
            return
        }
        ring.prepareShutdown(socket: sink(connection, side), how: Int32(SHUT_WR), userData: userData(.shutdown, index))
        connection.pointee.inflight += 1
    }

    /// The connection's open descriptors: sockets, and pipes in splice mode.
    @inline(__always)
    func forEachDescriptor(_ connection: UnsafeMutablePointer<Connection>, _ body: (Int32) -> Void) {
        if connection.pointee.clientSocket >= 0 { body(connection.pointee.clientSocket) }
        if connection.pointee.upstreamSocket >= 0 { body(connection.pointee.upstreamSocket) }
        if connection.pointee.inboundPipe.read >= 0 { body(connection.pointee.inboundPipe.read) }
        if connection.pointee.inboundPipe.write >= 0 { body(connection.pointee.inboundPipe.write) }
        if connection.pointee.outboundPipe.read >= 0 { body(connection.pointee.outboundPipe.read) }
        if connection.pointee.outboundPipe.write >= 0 { body(connection.pointee.outboundPipe.write) }
    }

    /// Every request has completed: give back buffers and memory, close the descriptors, log,
    /// and free the slot.
    mutating func finishClosing(_ index: Int32) {
        let connection = slab[index]
        timers.cancel(index, in: slab.slots)
        for side in [Side.inbound, Side.outbound] {
            let flow = direction(connection, side)
            while !flow.pointee.isEmpty {
                let item = flow.pointee.removeFirst()
                if item.buffer != PendingSend.scratch { recycle(item.buffer) }
            }
        }
        if connection.pointee.scratch >= 0 { scratch.free(connection.pointee.scratch) }
        connection.pointee.heapResponse?.deallocate()
        // Counted before the sockets close: a peer that sees the FIN or RST sees the count.
        let service = connection.pointee.service
        counters.add(.connectionsClosed, service: service)
        counters.addClose(connection.pointee.closeReason, service: service)
        if connection.pointee.holdsServicePlace { shared.adjustActive(service, by: -1) }
        // On the ring: the closes leave with the next submit, batched with everything else.
        let closeUserData = UserData.pack(.closeDescriptor, slot: -1, generation: 0)
        forEachDescriptor(connection) { descriptor in ring.prepareClose(fileDescriptor: descriptor, userData: closeUserData) }
        logClose(index)
        slab.free(index)
    }

    // MARK: - Timers

    mutating func expireTimers() {
        var index = timers.expire(nowMilliseconds: now, in: slab.slots)
        while index >= 0 {
            let next = slab[index].pointee.timerNext
            slab[index].pointee.timerNext = -1
            timerFired(index)
            index = next
        }
    }

    private mutating func timerFired(_ index: Int32) {
        let connection = slab[index]
        switch connection.pointee.state {
        case .detecting:
            headerTimedOut(index)
        case .serving:
            servingTimerFired(index)
        case .relaying:
            let idle = services[Int(connection.pointee.service)].idleTimeoutMilliseconds
            guard idle > 0 else { return }
            let deadline = connection.pointee.lastActivity + idle
            if now >= deadline {
                close(index, reason: .idleTimeout)
            } else {
                timers.schedule(index, deadline: deadline, in: slab.slots)
            }
        case .closing:
            closeStalled(index)
        case .accepted, .queued, .connecting, .free:
            break
        }
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}
