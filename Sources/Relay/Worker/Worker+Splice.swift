import CLiburing
import Glibc
import Uring

/// Splice mode (`splice=on`): bytes move socket -> pipe -> socket inside the kernel, never
/// through user memory. Per direction the phases alternate: fill the pipe from the source, drain
/// it into the sink, repeat. Splice requests run on io-wq threads and use SPLICE_F_NONBLOCK, so
/// an empty source or a full sink answers -EAGAIN at once and the connection waits on a poll
/// request instead of parking a kernel thread.
extension Worker {
    /// Bytes one splice may move: the pipe size asked for (the kernel may grant less).
    static let pipeSize: Int32 = 1 << 20

    mutating func startSplicing(_ index: Int32) {
        let connection = slab[index]
        // tcp_splice_read waits for data on a blocking socket whatever SPLICE_F_NONBLOCK says,
        // parking an io-wq thread (and the connection's slot and sockets with it) until the peer
        // sends. On non-blocking sockets an empty source answers -EAGAIN and the wait happens on
        // a poll request, which a cancel always reaches.
        guard setNonBlocking(connection.pointee.clientSocket), setNonBlocking(connection.pointee.upstreamSocket) else {
            close(index, reason: .upstreamError, errno: Errno.current.rawValue)
            return
        }
        guard let inbound = makePipe(), let outbound = makePipe() else {
            close(index, reason: .upstreamError, errno: Errno.current.rawValue)
            return
        }
        connection.pointee.inboundPipe = inbound
        connection.pointee.outboundPipe = outbound
        // The preamble (PROXY header, early bytes) goes into the pipe first, in order.
        if connection.pointee.preambleEnd > connection.pointee.preambleStart {
            let start = scratch.base(connection.pointee.scratch) + Int(connection.pointee.preambleStart)
            let length = Int(connection.pointee.preambleEnd - connection.pointee.preambleStart)
            guard writeToPipe(index, start, length) else { return }
        }
        if connection.pointee.scratch >= 0 && !connection.pointee.scratchReceiveArmed {
            scratch.free(connection.pointee.scratch)
            connection.pointee.scratch = -1
        }
        if connection.pointee.inbound.pipeBytes > 0 {
            spliceDrain(index, .inbound)
        } else if connection.pointee.inbound.sourceClosed {
            finishSpliceDirectionIfDrained(index, .inbound)
        } else if !connection.pointee.scratchReceiveArmed {
            spliceFill(index, .inbound)
        }
        spliceFill(index, .outbound)
    }

    /// Puts bytes already in user memory (preamble, early client bytes) into the inbound pipe,
    /// behind anything already there. A pipe holds at least 64 KiB, more than those ever are.
    private mutating func writeToPipe(_ index: Int32, _ bytes: UnsafeRawPointer, _ length: Int) -> Bool {
        let connection = slab[index]
        guard Glibc.write(connection.pointee.inboundPipe.write, bytes, length) == length else {
            close(index, reason: .upstreamError, errno: Errno.current.rawValue)
            return false
        }
        connection.pointee.inbound.pipeBytes += UInt32(length)
        return true
    }

    /// Client bytes that arrived after the connect completed (send-only PROXY mode).
    mutating func spliceEarlyBytes(_ index: Int32, from bytes: UnsafeRawPointer, count: Int) {
        guard writeToPipe(index, bytes, count) else { return }
        releaseScratchIfUnused(index)
        if !slab[index].pointee.inbound.sendInFlight { spliceDrain(index, .inbound) }
    }

    private func makePipe() -> (read: Int32, write: Int32)? {
        var ends: [Int32] = [-1, -1]
        guard pipe2(&ends, O_CLOEXEC | O_NONBLOCK) == 0 else { return nil }
        _ = fcntl(ends[1], ringway_F_SETPIPE_SZ, Worker.pipeSize)
        return (ends[0], ends[1])
    }

    @inline(__always)
    private func pipe(_ connection: UnsafeMutablePointer<Connection>, _ side: Side) -> (read: Int32, write: Int32) {
        side == .inbound ? connection.pointee.inboundPipe : connection.pointee.outboundPipe
    }

    mutating func spliceFill(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        ring.prepareSplice(
            from: source(connection, side), to: pipe(connection, side).write, length: Int(Worker.pipeSize),
            userData: userData(side == .inbound ? .spliceFillInbound : .spliceFillOutbound, index))
        connection.pointee.inflight += 1
    }

    private mutating func spliceDrain(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        ring.prepareSplice(
            from: pipe(connection, side).read, to: sink(connection, side), length: Int(flow.pointee.pipeBytes),
            userData: userData(side == .inbound ? .spliceDrainInbound : .spliceDrainOutbound, index))
        flow.pointee.sendInFlight = true
        connection.pointee.inflight += 1
    }

    private mutating func pollSocket(_ index: Int32, _ side: Side, fill: Bool) {
        let connection = slab[index]
        let operation: Operation
        switch (side, fill) {
        case (.inbound, true): operation = .pollFillInbound
        case (.outbound, true): operation = .pollFillOutbound
        case (.inbound, false): operation = .pollDrainInbound
        case (.outbound, false): operation = .pollDrainOutbound
        }
        ring.preparePoll(
            fileDescriptor: fill ? source(connection, side) : sink(connection, side),
            events: UInt32(fill ? POLLIN : POLLOUT), userData: userData(operation, index))
        connection.pointee.inflight += 1
    }

    mutating func handleSpliceFill(_ index: Int32, _ side: Side, _ completion: Completion) {
        let connection = slab[index]
        let flow = direction(connection, side)
        let result = completion.result
        if result > 0 {
            flow.pointee.pipeBytes += UInt32(result)
            flow.pointee.bytes &+= UInt64(result)
            counters.add(side == .inbound ? .bytesClientToUpstream : .bytesUpstreamToClient,
                         service: connection.pointee.service, UInt64(result))
            connection.pointee.lastActivity = now
            spliceDrain(index, side)
        } else if result == 0 {
            flow.pointee.sourceClosed = true
            finishSpliceDirectionIfDrained(index, side)
        } else if Errno(rawValue: -result) == .wouldBlock {
            pollSocket(index, side, fill: true)
        } else {
            failed(index, side: side, atSource: true, Errno(rawValue: -result))
        }
    }

    mutating func handleSpliceDrain(_ index: Int32, _ side: Side, _ completion: Completion) {
        let connection = slab[index]
        let flow = direction(connection, side)
        let result = completion.result
        // `sendInFlight` stays set while waiting for POLLOUT: the drain is still pending.
        if result > 0 {
            flow.pointee.sendInFlight = false
            flow.pointee.pipeBytes -= UInt32(result)
            connection.pointee.lastActivity = now
            if flow.pointee.pipeBytes > 0 {
                spliceDrain(index, side)
            } else if flow.pointee.sourceClosed {
                finishSpliceDirectionIfDrained(index, side)
            } else if side == .outbound || !connection.pointee.scratchReceiveArmed {
                // While the early-bytes receive is pending it is the client socket's only
                // reader; its completion puts its bytes in the pipe and the next fill follows.
                spliceFill(index, side)
            }
        } else if result == 0 || Errno(rawValue: -result) == .wouldBlock {
            pollSocket(index, side, fill: false)
        } else {
            failed(index, side: side, atSource: false, Errno(rawValue: -result))
        }
    }

    mutating func handleSplicePoll(_ index: Int32, _ side: Side, fill: Bool, _ completion: Completion) {
        guard completion.result >= 0 else {
            failed(index, side: side, atSource: fill, Errno(rawValue: -completion.result))
            return
        }
        if fill { spliceFill(index, side) } else { spliceDrain(index, side) }
    }

    mutating func finishSpliceDirectionIfDrained(_ index: Int32, _ side: Side) {
        let connection = slab[index]
        let flow = direction(connection, side)
        guard flow.pointee.sourceClosed, flow.pointee.pipeBytes == 0, !flow.pointee.sinkShutdown else { return }
        finishDirection(index, side)
    }
}
