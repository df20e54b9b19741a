import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The header-peek phase: the client's first bytes go into the scratch chunk and through the
/// PROXY detector until it decides. Then the header (if any, and if trusted) is stripped, the
/// outgoing header is encoded right in front of the remaining bytes, and that region becomes the
/// preamble: the first and only send upstream before relaying starts.
extension Worker {
    mutating func startDetecting(_ index: Int32, service: ServiceRuntime) {
        slab[index].pointee.state = .detecting
        timers.schedule(index, deadline: now + service.headerTimeoutMilliseconds, in: slab.slots)
        armScratchReceive(index)
    }

    /// Receives into the free part of the incoming area of the connection's chunk.
    mutating func armScratchReceive(_ index: Int32) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let filled = Int(connection.pointee.scratchFilled)
        let room = service.incomingCapacity - filled
        precondition(room > 0 && connection.pointee.scratch >= 0, "scratch receive without room")
        ring.prepareReceive(
            socket: connection.pointee.clientSocket,
            into: scratch.base(connection.pointee.scratch) + service.incomingOffset + filled, length: room,
            userData: userData(.scratchReceive, index))
        connection.pointee.scratchReceiveArmed = true
        connection.pointee.inflight += 1
    }

    mutating func handleScratchReceive(_ index: Int32, _ completion: Completion) {
        slab[index].pointee.scratchReceiveArmed = false
        switch slab[index].pointee.state {
        case .detecting: detectionReceived(index, completion)
        case .serving: requestReceived(index, completion)
        case .connecting, .relaying: earlyBytesReceived(index, completion)
        case .free, .accepted, .queued, .closing: break
        }
    }

    private mutating func detectionReceived(_ index: Int32, _ completion: Completion) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        guard let receive = service.config.receiveProxy, let detector = service.detector else {
            internalError(index, "detecting on a service that does not receive PROXY headers")
            return
        }
        if completion.result < 0 {
            clientFailed(index, completion.result)
            return
        }
        if completion.result == 0 {
            // The client finished before a decision.
            if connection.pointee.scratchFilled > 0 {
                reject(index, .proxyHeaderInvalid, code: .truncated, detail: "connection closed inside a PROXY header")
            } else if receive.policy == .require {
                reject(index, .proxyHeaderMissing, code: nil, detail: "client closed without sending a PROXY header")
            } else {
                connection.pointee.inbound.sourceClosed = true
                proceed(index, header: nil, consumed: 0)
            }
            return
        }
        connection.pointee.scratchFilled += UInt32(completion.result)
        connection.pointee.lastActivity = now
        let bytes = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + service.incomingOffset,
            count: Int(connection.pointee.scratchFilled))
        switch detector.detect(bytes) {
        case .needMore:
            if Int(connection.pointee.scratchFilled) >= service.incomingCapacity {
                reject(index, .proxyHeaderInvalid, code: .truncated, detail: "PROXY header does not fit in \(service.incomingCapacity) bytes")
            } else {
                armScratchReceive(index)
            }
        case .notProxy:
            if receive.policy == .require {
                reject(index, .proxyHeaderMissing, code: nil, detail: "PROXY header required but the first bytes are not one")
            } else {
                proceed(index, header: nil, consumed: 0)
            }
        case .header(let header, let consumed):
            // Fail closed: a peer that cannot be named is not a trusted one.
            guard let peer = connection.pointee.peer else {
                reject(index, .peerUnknown, code: nil, detail: "the peer's address is unknown, so it cannot be trusted")
                return
            }
            if receive.trusts(peer.address) {
                proceed(index, header: header, consumed: consumed)
            } else {
                reject(index, .proxyHeaderUntrusted, code: nil, detail: "\(peer.address) is not in trustedProxies")
            }
        case .invalid(let error):
            reject(index, .proxyHeaderInvalid, code: error.code, detail: error.description)
        }
    }

    /// The header timer fired while detecting.
    mutating func headerTimedOut(_ index: Int32) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        if service.config.receiveProxy?.policy == .optional && connection.pointee.scratchFilled == 0 {
            // Nothing arrived: a server-speaks-first client. Carry on without a header; the
            // receive still in flight delivers the client's first bytes later.
            proceed(index, header: nil, consumed: 0)
        } else {
            let detail = connection.pointee.scratchFilled == 0
                ? "no PROXY header within \(service.headerTimeoutMilliseconds) ms"
                : "PROXY header incomplete after \(service.headerTimeoutMilliseconds) ms"
            reject(index, .proxyHeaderTimeout, code: nil, detail: detail)
        }
    }

    /// Closes a connection whose header was refused, with a log line and counters. The upstream
    /// was never contacted, so it never sees a byte.
    private mutating func reject(_ index: Int32, _ reason: CloseReason, code: ProxyProtocolErrorCode?, detail: String) {
        let connection = slab[index]
        let serviceIndex = connection.pointee.service
        if let code { counters.addProxyRejection(code, service: serviceIndex) }
        let fields = logFields(index)
        log.write(.warn) { line in
            fields.write(&line)
            if let code { line.field("reason", code.name) }
            line.field("msg", "\(reason.message): \(detail)")
        }
        close(index, reason: reason)
    }

    /// Detection is over: record what the header said and start the service's real work.
    mutating func proceed(_ index: Int32, header: ProxyHeader?, consumed: Int) {
        timers.cancel(index, in: slab.slots)
        let connection = slab[index]
        let serviceIndex = connection.pointee.service
        if let header {
            connection.pointee.receivedProxyVersion = header.version.rawValue
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
        switch services[Int(serviceIndex)].config.kind {
        case .whoami, .metrics:
            startServing(index, header: header, consumed: consumed)
        case .forward:
            guard preparePreamble(index, header: header, consumed: consumed) else { return }
            startConnect(index, firstAttempt: true)
        }
    }

    /// Lays out the first upstream send in the chunk: the outgoing PROXY header (when the service
    /// sends one) directly followed by the client bytes after the received header. When the
    /// header cannot be built the connection is closed and false returned: the client's bytes
    /// never go upstream without the header the service promises.
    mutating func preparePreamble(_ index: Int32, header received: ProxyHeader?, consumed: Int) -> Bool {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let payloadStart = service.incomingOffset + consumed
        let payloadEnd = service.incomingOffset + Int(connection.pointee.scratchFilled)
        var start = payloadStart
        if let send = service.config.sendProxy {
            let header: ProxyHeader
            switch outgoingHeader(index, send: send, received: received) {
            case .success(let built): header = built
            case .failure(let reason):
                close(index, reason: reason)
                return false
            }
            let length = ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: send.crc32c)
            // The reserve in front of the incoming area covers the largest header start-up
            // validation allows; anything larger is refused here rather than truncated.
            guard length <= payloadStart, length <= ProxyHeaderDetector.maximumPossibleHeaderLength else {
                refuseHeader(index, .proxyHeaderTooLarge, detail: "\(length) bytes")
                return false
            }
            start = payloadStart - length
            do {
                _ = try ProxyHeaderEncoder.encode(
                    header, appendingCRC32C: send.crc32c,
                    into: UnsafeMutableRawBufferPointer(start: scratch.base(connection.pointee.scratch) + start, count: length))
            } catch {
                refuseHeader(index, .internalError, detail: "\(error)")
                return false
            }
            counters.add(.proxyHeadersSent, service: connection.pointee.service)
        }
        connection.pointee.inbound.bytes += UInt64(payloadEnd - payloadStart)
        counters.add(.bytesClientToUpstream, service: connection.pointee.service, UInt64(payloadEnd - payloadStart))
        connection.pointee.preambleStart = UInt32(start)
        connection.pointee.preambleEnd = UInt32(payloadEnd)
        return true
    }

    private mutating func refuseHeader(_ index: Int32, _ reason: CloseReason, detail: String) {
        let fields = logFields(index)
        log.write(.error) { line in
            fields.write(&line)
            line.field("msg", "cannot encode the PROXY header to send (\(detail)); closing instead of sending without it")
        }
        close(index, reason: reason)
    }

    /// The header a forwarder sends: the real client (from a received header, else the socket
    /// peer) and the address it originally dialled. An address that cannot be read is a reason
    /// to close, never a LOCAL header: LOCAL would make the upstream believe the relay itself.
    private func outgoingHeader(
        _ index: Int32, send: ProxySendConfig, received: ProxyHeader?
    ) -> Result<ProxyHeader, CloseReason> {
        let connection = slab[index]
        let version: ProxyProtocolVersion = send.version == .v1 ? .v1 : .v2
        guard let source = connection.pointee.client else { return .failure(.peerUnknown) }
        guard let destination = connection.pointee.proxiedDestination ?? localEndpoint(of: connection.pointee.clientSocket)
        else { return .failure(.localAddressUnknown) }
        var tlvs: [ProxyTLV] = []
        if version == .v2 {
            if send.passthroughTLVs, let received {
                tlvs = received.tlvs.filter { $0.type != ProxyTLV.crc32c && !(send.uniqueID && $0.type == ProxyTLV.uniqueID) }
            }
            if send.uniqueID { tlvs.append(ProxyTLV(type: ProxyTLV.uniqueID, value: uniqueID(of: index))) }
        }
        return .success(.tcp(source: source, destination: destination, version: version, tlvs: tlvs))
    }

    /// 16 bytes: process start time and connection id, both big-endian. Unique per process run.
    func uniqueID(of index: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for value in [processStart, slab[index].pointee.id] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }

    /// Client bytes that arrived while the upstream was connecting (or right after): they join
    /// the preamble if it has not left yet, else they are queued behind it.
    private mutating func earlyBytesReceived(_ index: Int32, _ completion: Completion) {
        let connection = slab[index]
        if completion.result < 0 {
            clientFailed(index, completion.result)
            return
        }
        let service = services[Int(connection.pointee.service)]
        let splicing = connection.pointee.state == .relaying && service.config.splice
        if completion.result == 0 {
            connection.pointee.inbound.sourceClosed = true
            if splicing {
                finishSpliceDirectionIfDrained(index, .inbound)
            } else if connection.pointee.state == .relaying {
                finishDirectionIfDrained(index, .inbound)
            }
            releaseScratchIfUnused(index)
            return
        }
        let oldEnd = service.incomingOffset + Int(connection.pointee.scratchFilled)
        connection.pointee.scratchFilled += UInt32(completion.result)
        connection.pointee.inbound.bytes += UInt64(completion.result)
        counters.add(.bytesClientToUpstream, service: connection.pointee.service, UInt64(completion.result))
        connection.pointee.lastActivity = now
        let newEnd = oldEnd + Int(completion.result)
        if connection.pointee.state == .connecting {
            connection.pointee.preambleEnd = UInt32(newEnd)
        } else if splicing {
            spliceEarlyBytes(index, from: scratch.base(connection.pointee.scratch) + oldEnd, count: Int(completion.result))
        } else {
            connection.pointee.inbound.enqueue(PendingSend(buffer: PendingSend.scratch, start: UInt32(oldEnd), end: UInt32(newEnd)))
            startSend(index, .inbound)
            armReceive(index, .inbound)
        }
    }

    /// Returns the chunk once nothing refers to it any more.
    mutating func releaseScratchIfUnused(_ index: Int32) {
        let connection = slab[index]
        guard connection.pointee.scratch >= 0, connection.pointee.state == .relaying,
              !connection.pointee.scratchReceiveArmed
        else { return }
        let inbound = connection.pointee.inbound
        for offset in 0..<Int(inbound.count) {
            let item = inbound.queue[(Int(inbound.head) + offset) & (Direction.capacity - 1)]
            if item.buffer == PendingSend.scratch { return }
        }
        scratch.free(connection.pointee.scratch)
        connection.pointee.scratch = -1
    }

    /// A receive on the client socket failed.
    mutating func clientFailed(_ index: Int32, _ result: Int32) {
        let error = Errno(rawValue: -result)
        let reset = error == .connectionReset || error == .brokenPipe
        close(index, reason: reset ? .clientReset : .clientError, errno: error.rawValue, resetUpstream: true)
    }
}
