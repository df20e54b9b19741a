import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The header peek: the client's first bytes go into the scratch chunk and through the PROXY
/// detector until it decides. The header (if any, and if trusted) is then stripped and the
/// connection moves on: to its upstream with the preamble laid out, or to the HTTP responder.
extension Worker {
    mutating func startDetecting(_ slot: Slot) {
        slot.connection.pointee.phase = .detecting
        timers.schedule(slot.index, deadline: now + service(slot).pointee.headerTimeoutMilliseconds, in: slab.slots)
        armPeek(slot)
    }

    /// Receives into the free part of the incoming area of the connection's chunk. The only read
    /// on the client socket while it is in flight.
    mutating func armPeek(_ slot: Slot) {
        let connection = slot.connection
        let service = self.service(slot)
        let filled = Int(connection.pointee.scratchFilled)
        let room = service.pointee.incomingCapacity - filled
        guard room > 0, connection.pointee.scratch >= 0 else {
            internalError(slot, "a peek without room in the scratch chunk")
            return
        }
        kernel.prepareReceive(
            socket: connection.pointee.clientSocket,
            into: scratch.base(connection.pointee.scratch) + service.pointee.incomingOffset + filled, length: room,
            userData: slot.userData(.peek))
        connection.pointee.peeking = true
        connection.pointee.inflight += 1
    }

    mutating func detectionReceived(_ slot: Slot, _ completion: Completion) {
        let connection = slot.connection
        guard let count = peekResult(slot, completion) else { return }
        let service = self.service(slot)
        guard let receive = service.pointee.receive, let detector = service.pointee.detector else {
            internalError(slot, "detecting on a service that does not receive PROXY headers")
            return
        }
        if count == 0 {
            // The client finished before a decision.
            if connection.pointee.scratchFilled > 0 {
                reject(slot, .proxyHeaderInvalid, code: .truncated, detail: "connection closed inside a PROXY header")
            } else if receive.policy == .require {
                reject(slot, .proxyHeaderMissing, code: nil, detail: "client closed without sending a PROXY header")
            } else {
                sourceEnded(slot, .inbound)
                proceed(slot, header: nil, consumed: 0)
            }
            return
        }
        connection.pointee.scratchFilled += UInt32(count)
        connection.pointee.lastActivity = now
        let bytes = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + service.pointee.incomingOffset,
            count: Int(connection.pointee.scratchFilled))
        switch detector.detect(bytes) {
        case .needMore:
            if Int(connection.pointee.scratchFilled) >= service.pointee.incomingCapacity {
                reject(slot, .proxyHeaderInvalid, code: .truncated,
                       detail: "PROXY header does not fit in \(service.pointee.incomingCapacity) bytes")
            } else {
                armPeek(slot)
            }
        case .notProxy:
            if receive.policy == .require {
                reject(slot, .proxyHeaderMissing, code: nil, detail: "PROXY header required but the first bytes are not one")
            } else {
                proceed(slot, header: nil, consumed: 0)
            }
        case .header(let header, let consumed):
            // Fail closed: a peer that cannot be named is not a trusted one.
            guard let peer = connection.pointee.peer else {
                reject(slot, .peerUnknown, code: nil, detail: "the peer's address is unknown, so it cannot be trusted")
                return
            }
            if receive.trusts(peer.address) {
                proceed(slot, header: header, consumed: consumed)
            } else {
                reject(slot, .proxyHeaderUntrusted, code: nil, detail: "\(peer.address) is not in trustedProxies")
            }
        case .invalid(let error):
            reject(slot, .proxyHeaderInvalid, code: error.code, detail: error.description)
        }
    }

    /// The header timer fired while detecting.
    mutating func headerTimedOut(_ slot: Slot) {
        let connection = slot.connection
        let service = self.service(slot)
        let timeout = service.pointee.headerTimeoutMilliseconds
        if service.pointee.receive?.policy == .optional && connection.pointee.scratchFilled == 0 {
            // Nothing arrived: a server-speaks-first client. Carry on without a header; the peek
            // still in flight delivers the client's first bytes later, as payload.
            proceed(slot, header: nil, consumed: 0)
        } else {
            let detail = connection.pointee.scratchFilled == 0
                ? "no PROXY header within \(timeout) ms" : "PROXY header incomplete after \(timeout) ms"
            reject(slot, .proxyHeaderTimeout, code: nil, detail: detail)
        }
    }

    /// Closes a connection whose header was refused, with a log line and counters. The upstream
    /// was never contacted, so it never sees a byte.
    private mutating func reject(_ slot: Slot, _ reason: CloseReason, code: ProxyProtocolErrorCode?, detail: String) {
        if let code { counters.addProxyRejection(code, service: slot.connection.pointee.service) }
        let fields = logFields(slot)
        log.write(.warn) { line in
            fields.write(&line)
            if let code { line.field("reason", code.name) }
            line.field("msg", "\(reason.message): \(detail)")
        }
        close(slot, reason: reason)
    }

    /// Detection is over: record what the header said and start the service's real work.
    mutating func proceed(_ slot: Slot, header: ProxyHeader?, consumed: Int) {
        timers.cancel(slot.index, in: slab.slots)
        let connection = slot.connection
        let serviceIndex = connection.pointee.service
        if let header {
            counters.add(header.version == .v1 ? .proxyHeadersV1 : .proxyHeadersV2, service: serviceIndex)
            if header.command == .proxy, let source = header.source {
                connection.pointee.proxiedClient = source
                connection.pointee.proxiedDestination = header.destination
            } else {
                counters.add(.proxyHeadersLocal, service: serviceIndex)
            }
        } else {
            counters.add(.proxyHeadersAbsent, service: serviceIndex)
        }
        switch service(slot).pointee.kind {
        case .whoami, .metrics:
            startServing(slot, header: header, consumed: consumed)
        case .proxy:
            startHandshake(slot, consumed: consumed)
        case .forward:
            guard let preamble = preparePreamble(slot, header: header, consumed: consumed) else { return }
            startConnect(slot, preamble: preamble)
        }
    }

    /// A peek completed after detection (or without one): client bytes that arrived while the
    /// upstream was connecting, or right after. They join the preamble if it has not left yet,
    /// else they go behind it.
    mutating func earlyBytesReceived(_ slot: Slot, _ completion: Completion) {
        let connection = slot.connection
        guard let count = peekResult(slot, completion) else { return }
        if count == 0 {
            sourceEnded(slot, .inbound)
            releaseScratchIfUnused(slot)
            return
        }
        let service = self.service(slot)
        let oldEnd = service.pointee.incomingOffset + Int(connection.pointee.scratchFilled)
        connection.pointee.scratchFilled += UInt32(count)
        connection.pointee.inbound.bytes += UInt64(count)
        counters.add(.bytesClientToUpstream, service: connection.pointee.service, UInt64(count))
        connection.pointee.lastActivity = now
        let newEnd = oldEnd + Int(count)
        switch connection.pointee.phase {
        case .connecting(var connecting):
            connecting.preamble.end = UInt32(newEnd)
            connection.pointee.phase = .connecting(connecting)
        case .relaying(let relaying):
            if let pipes = relaying.pipes {
                spliceEarlyBytes(slot, pipes, from: scratch.base(connection.pointee.scratch) + oldEnd, count: Int(count))
            } else {
                connection.pointee.inbound.enqueue(PendingSend(buffer: PendingSend.scratch, start: UInt32(oldEnd), end: UInt32(newEnd)))
                startSend(slot, .inbound)
                armReceive(slot, .inbound)
            }
        default:
            internalError(slot, "early bytes in phase \(connection.pointee.phase.name)")
        }
    }

    /// Returns the chunk once nothing refers to it any more.
    mutating func releaseScratchIfUnused(_ slot: Slot) {
        let connection = slot.connection
        guard connection.pointee.scratch >= 0, !connection.pointee.peeking, !connection.pointee.inbound.usesScratch,
              !connection.pointee.outbound.usesScratch
        else { return }
        guard case .relaying = connection.pointee.phase else { return }
        scratch.free(connection.pointee.scratch)
        connection.pointee.scratch = -1
    }

    /// A peek completed: its byte count (0: the client finished), or nil after closing the
    /// connection because the read failed.
    mutating func peekResult(_ slot: Slot, _ completion: Completion) -> Int32? {
        slot.connection.pointee.peeking = false
        switch completion.result {
        case .failure(let error):
            clientFailed(slot, error)
            return nil
        case .success(let count):
            return count
        }
    }

    /// A read on the client socket failed.
    mutating func clientFailed(_ slot: Slot, _ error: Errno) {
        let reset = error == .connectionReset || error == .brokenPipe
        close(slot, reason: reset ? .clientReset : .clientError, errno: error, resetUpstream: true)
    }
}
