import Glibc
import Uring

/// Relaying in splice mode (`splice=on`): bytes move socket -> pipe -> socket inside the kernel,
/// never through user memory. Per direction the steps alternate: fill the pipe from the source,
/// drain it into the sink, repeat. Splices run on io-wq threads; with non-blocking sockets and
/// SPLICE_F_NONBLOCK an empty source or a full sink answers -EAGAIN at once and the connection
/// waits on a poll request instead of parking a kernel thread.
extension Worker {
    /// Bytes one splice may move: the pipe size asked for (the kernel may grant less).
    static var pipeSize: Int32 { 1 << 20 }

    /// `reply`: bytes of the scratch chunk owed to the client before anything from upstream (a
    /// proxy's success reply); they go into the outbound pipe first.
    mutating func startSplicing(_ slot: Slot, preamble: ByteRange, reply: ByteRange = ByteRange()) {
        let connection = slot.connection
        // tcp_splice_read waits for data on a blocking socket whatever SPLICE_F_NONBLOCK says,
        // parking an io-wq thread (and the connection's slot and sockets with it) until the peer
        // sends. On non-blocking sockets an empty source answers -EAGAIN and the wait happens on
        // a poll request, which a cancel always reaches.
        let pipes: Pipes
        do throws(Errno) {
            try kernel.setNonBlocking(connection.pointee.clientSocket)
            try kernel.setNonBlocking(connection.pointee.upstreamSocket)
            let inbound = try kernel.openPipe(capacity: Self.pipeSize)
            do throws(Errno) {
                pipes = Pipes(inbound: inbound, outbound: try kernel.openPipe(capacity: Self.pipeSize))
            } catch {
                kernel.closeNow(inbound.read)
                kernel.closeNow(inbound.write)
                throw error
            }
        } catch {
            close(slot, reason: .upstreamError, errno: error)
            return
        }
        connection.pointee.phase = .relaying(Relaying(pipes: pipes))
        // The preamble (PROXY header, early bytes) goes into the pipe first, in order.
        if !preamble.isEmpty {
            let start = scratch.base(connection.pointee.scratch) + Int(preamble.start)
            guard writeToPipe(slot, pipes, .inbound, start, preamble.count) else { return }
        }
        if !reply.isEmpty {
            let start = scratch.base(connection.pointee.scratch) + Int(reply.start)
            guard writeToPipe(slot, pipes, .outbound, start, reply.count) else { return }
        }
        releaseScratchIfUnused(slot)
        if connection.pointee.inbound.pipeBytes > 0 {
            spliceDrain(slot, .inbound, pipes)
        } else if !connection.pointee.inbound.sourceClosed && !connection.pointee.peeking {
            spliceFill(slot, .inbound, pipes)
        }
        // The client's FIN came before relaying: finish once the pipe is empty, and watch.
        if connection.pointee.inbound.sourceClosed { sourceEnded(slot, .inbound) }
        if connection.pointee.outbound.pipeBytes > 0 {
            spliceDrain(slot, .outbound, pipes)
        } else {
            spliceFill(slot, .outbound, pipes)
        }
    }

    /// Puts bytes already in user memory (preamble, early client bytes) into the inbound pipe,
    /// behind anything already there. A pipe holds at least 64 KiB, more than those ever are.
    private mutating func writeToPipe(
        _ slot: Slot, _ pipes: Pipes, _ side: Side, _ bytes: UnsafeRawPointer, _ length: Int
    ) -> Bool {
        do throws(Errno) {
            guard try kernel.write(pipes.of(side).write, bytes, count: length) == length else {
                close(slot, reason: .upstreamError)
                return false
            }
        } catch {
            close(slot, reason: .upstreamError, errno: error)
            return false
        }
        slot.direction(side).pointee.pipeBytes += UInt32(length)
        return true
    }

    /// Client bytes a peek received after the connect completed.
    mutating func spliceEarlyBytes(_ slot: Slot, _ pipes: Pipes, from bytes: UnsafeRawPointer, count: Int) {
        guard writeToPipe(slot, pipes, .inbound, bytes, count) else { return }
        releaseScratchIfUnused(slot)
        if !slot.connection.pointee.inbound.writing { spliceDrain(slot, .inbound, pipes) }
    }

    private mutating func spliceFill(_ slot: Slot, _ side: Side, _ pipes: Pipes) {
        kernel.prepareSplice(
            from: slot.source(side), to: pipes.of(side).write, length: Int(Self.pipeSize),
            userData: slot.userData(.spliceFill, side))
        slot.direction(side).pointee.reading = true
        slot.connection.pointee.inflight += 1
    }

    private mutating func spliceDrain(_ slot: Slot, _ side: Side, _ pipes: Pipes) {
        let flow = slot.direction(side)
        kernel.prepareSplice(
            from: pipes.of(side).read, to: slot.sink(side), length: Int(flow.pointee.pipeBytes),
            userData: slot.userData(.spliceDrain, side))
        flow.pointee.writing = true
        slot.connection.pointee.inflight += 1
    }

    /// Waits until the source is readable (fill) or the sink writable (drain).
    private mutating func pollSocket(_ slot: Slot, _ side: Side, fill: Bool) {
        kernel.preparePoll(
            descriptor: fill ? slot.source(side) : slot.sink(side), events: UInt32(fill ? POLLIN : POLLOUT),
            userData: slot.userData(fill ? .pollFill : .pollDrain, side))
        if fill { slot.direction(side).pointee.reading = true } else { slot.direction(side).pointee.writing = true }
        slot.connection.pointee.inflight += 1
    }

    mutating func filled(_ slot: Slot, _ side: Side, _ pipes: Pipes, _ completion: Completion) {
        let connection = slot.connection
        let flow = slot.direction(side)
        flow.pointee.reading = false
        switch completion.result {
        case .success(let count) where count > 0:
            flow.pointee.pipeBytes += UInt32(count)
            flow.pointee.bytes &+= UInt64(count)
            counters.add(side == .inbound ? .bytesClientToUpstream : .bytesUpstreamToClient,
                         service: connection.pointee.service, UInt64(count))
            connection.pointee.lastActivity = now
            if !flow.pointee.writing { spliceDrain(slot, side, pipes) }
        case .success:
            sourceEnded(slot, side)
        case .failure(let error) where error == .wouldBlock:
            pollSocket(slot, side, fill: true)
        case .failure(let error) where error == .interrupted:
            // A splice runs on an io-wq thread, where a signal to the process can interrupt it:
            // nothing is wrong with the socket, so it is tried again.
            spliceFill(slot, side, pipes)
        case .failure(let error):
            failed(slot, side: side, atSource: true, error)
        }
    }

    mutating func drained(_ slot: Slot, _ side: Side, _ pipes: Pipes, _ completion: Completion) {
        let flow = slot.direction(side)
        flow.pointee.writing = false
        switch completion.result {
        case .success(let count) where count > 0:
            flow.pointee.pipeBytes -= UInt32(count)
            slot.connection.pointee.lastActivity = now
            if flow.pointee.pipeBytes > 0 {
                spliceDrain(slot, side, pipes)
            } else if flow.pointee.sourceClosed {
                finishSpliceDirectionIfDrained(slot, side, pipes)
            } else if !flow.pointee.reading && (side == .outbound || !slot.connection.pointee.peeking) {
                // While a peek is pending it is the client socket's only reader; its completion
                // puts its bytes in the pipe and the next fill follows.
                spliceFill(slot, side, pipes)
            }
        case .success, .failure(Errno.wouldBlock):
            pollSocket(slot, side, fill: false)
        case .failure(Errno.interrupted):
            // As for a fill: interrupted on its io-wq thread, tried again.
            spliceDrain(slot, side, pipes)
        case .failure(let error):
            failed(slot, side: side, atSource: false, error)
        }
    }

    mutating func polled(_ slot: Slot, _ side: Side, _ pipes: Pipes, fill: Bool, _ completion: Completion) {
        if fill { slot.direction(side).pointee.reading = false } else { slot.direction(side).pointee.writing = false }
        if case .failure(let error) = completion.result {
            failed(slot, side: side, atSource: fill, error)
            return
        }
        if fill { spliceFill(slot, side, pipes) } else { spliceDrain(slot, side, pipes) }
    }

    mutating func finishSpliceDirectionIfDrained(_ slot: Slot, _ side: Side, _ pipes: Pipes) {
        let flow = slot.direction(side)
        guard flow.pointee.sourceClosed, flow.pointee.pipeBytes == 0, !flow.pointee.writing, !flow.pointee.sinkShutdown
        else { return }
        finishDirection(slot, side)
    }
}
