import Glibc
import ProxyProtocol
import Uring

/// A proxy client's request, from the parsed target to the upstream: the name resolved without
/// blocking (or the address taken as it is), the candidate addresses laid out in the scratch
/// chunk, the connect, and the reply the client is owed — success once connected, the protocol's
/// error code when every address failed.
extension Worker {
    /// The name a target asks for, copied out of the chunk (`nameBase`: where the parsed message
    /// started; a name is a range of it). Called before anything is written over the request.
    func requestedName(_ slot: Slot, _ target: RequestedTarget, nameBase: Int) -> String? {
        guard case .name(let start, let count) = target.host else { return nil }
        let bytes = UnsafeRawBufferPointer(start: scratch.base(slot.connection.pointee.scratch) + nameBase + start, count: count)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `name`: the target's name from `requestedName`. `payloadStart`: where the client's bytes
    /// that go upstream start (behind the request, or the rewritten head).
    mutating func requestTarget(
        _ slot: Slot, _ request: ClientRequest, _ target: RequestedTarget, name: String?, payloadStart: Int
    ) {
        counters.add(.proxyRequests, service: slot.connection.pointee.service)
        guard target.port != 0 else {
            requestFailed(slot, request, reason: .handshakeInvalid, errno: nil, detail: "port 0 requested")
            return
        }
        guard let preamble = preparePreamble(slot, header: nil, payloadStart: payloadStart) else { return }
        if service(slot).pointee.chained {
            // Through -F hops the last hop resolves the name: Ringway dials the first hop.
            var destination = Destination(port: target.port)
            if case .address(let address) = target.host {
                destination.address = address
            } else if let name {
                guard let length = storeDestinationName(slot, name) else {
                    requestFailed(slot, request, reason: .handshakeInvalid, errno: nil, detail: "name longer than 256 bytes")
                    return
                }
                destination.nameLength = UInt16(length)
            }
            timers.cancel(slot.index, in: slab.slots)
            startConnect(slot, preamble: preamble, request: request, destination: destination)
            return
        }
        switch target.host {
        case .address(let address):
            let endpoint = IPEndpoint(address: address.unmapped, port: target.port)
            guard !isForbiddenTarget(endpoint) else {
                requestFailed(slot, request, reason: .targetForbidden, errno: nil, detail: "\(endpoint)")
                return
            }
            storeCandidate(slot, 0, endpoint)
            connectRequested(slot, request, candidates: 1, preamble: preamble)
        case .name:
            guard let name else { return }
            resolveRequested(slot, Resolving(request: request, port: target.port, preamble: preamble), name: name)
        }
    }

    /// Copies a destination name into the chunk's destination area; its length, or nil (and
    /// nothing copied) when it does not fit: a name is never cut.
    func storeDestinationName(_ slot: Slot, _ name: String) -> Int? {
        let count = name.utf8.count
        guard count <= ProxyScratchLayout.destinationCapacity else { return nil }
        let area = scratch.base(slot.connection.pointee.scratch) + ProxyScratchLayout.destinationOffset
        var copy = name
        copy.withUTF8 { area.copyMemory(from: $0.baseAddress!, byteCount: count) }
        return count
    }

    /// The `index`th address to try, kept in the chunk (a connect reads it until it completes).
    func storeCandidate(_ slot: Slot, _ index: Int, _ endpoint: IPEndpoint) {
        let pointer = scratch.base(slot.connection.pointee.scratch)
            + ProxyScratchLayout.candidatesOffset + index * ProxyScratchLayout.candidateStride
        pointer.bindMemory(to: SocketAddress.self, capacity: 1).initialize(to: endpoint.socketAddress)
    }

    func candidate(_ slot: Slot, _ index: Int) -> UnsafePointer<SocketAddress> {
        let pointer = scratch.base(slot.connection.pointee.scratch)
            + ProxyScratchLayout.candidatesOffset + index * ProxyScratchLayout.candidateStride
        return UnsafePointer(pointer.assumingMemoryBound(to: SocketAddress.self))
    }

    /// The resolver answered (at once from its cache, or later): the addresses become candidates.
    mutating func nameResolved(_ slot: Slot, _ resolving: Resolving, _ addresses: [IPAddress]) {
        var count = 0
        var forbidden: IPEndpoint?
        for address in addresses where count < ProxyScratchLayout.candidateCapacity {
            let endpoint = IPEndpoint(address: address.unmapped, port: resolving.port)
            if isForbiddenTarget(endpoint) {
                forbidden = endpoint
                continue
            }
            storeCandidate(slot, count, endpoint)
            count += 1
        }
        guard count > 0 else {
            requestFailed(slot, resolving.request, reason: forbidden == nil ? .nameUnresolved : .targetForbidden, errno: nil,
                          detail: forbidden.map { "the name resolves to \($0)" } ?? "no address")
            return
        }
        connectRequested(slot, resolving.request, candidates: count, preamble: resolving.preamble)
    }

    /// "This host" (0.0.0.0, ::) or one of this proxy's own listeners: a tunnel into the proxy
    /// itself nests once per request line a client pipelines, until descriptors run out. Only
    /// loopback and the listeners' own addresses are recognised; a loop through another host or
    /// another local address is not.
    func isForbiddenTarget(_ endpoint: IPEndpoint) -> Bool {
        let address = endpoint.address
        if address.isUnspecified { return true }
        return ownEndpoints.contains { own in
            own.port == endpoint.port && (address.isLoopback || own.address.unmapped == address)
        }
    }

    private mutating func connectRequested(_ slot: Slot, _ request: ClientRequest, candidates: Int, preamble: ByteRange) {
        // The handshake deadline ends here; the connect has its own timeout.
        timers.cancel(slot.index, in: slab.slots)
        var connecting = Connecting(preamble: preamble)
        connecting.request = request
        connecting.candidates = UInt8(candidates)
        attemptRequestedConnect(slot, connecting, lastError: nil)
    }

    /// Connects to the current candidate; when none is left, replies with the last failure.
    mutating func attemptRequestedConnect(_ slot: Slot, _ connecting: Connecting, lastError: Errno?) {
        guard connecting.address < UInt32(connecting.candidates) else {
            upstreamUnreachable(slot, connecting, lastError: lastError)
            return
        }
        let address = candidate(slot, Int(connecting.address))
        guard let endpoint = IPEndpoint(address.pointee) else {
            internalError(slot, "a candidate address that is neither IPv4 nor IPv6")
            return
        }
        dial(slot, connecting, endpoint: endpoint, address: address)
    }

    /// Writes the client's success reply into the reply area: its length (0 when none is owed).
    func successReply(_ slot: Slot, _ request: ClientRequest) -> Int? {
        let area = replyArea(slot)
        switch request {
        case .none, .httpForward:
            return 0
        case .httpConnect:
            return HTTPProxyStatus.connectionEstablished.write(into: area)
        case .socks5:
            // BND.ADDR/BND.PORT: the address Ringway connected from, as RFC 1928 asks.
            let bound = (try? kernel.localAddress(of: slot.connection.pointee.upstreamSocket)).flatMap(IPEndpoint.init)
            return SOCKS5Reply.write(.succeeded, boundAddress: bound?.address.unmapped ?? .v4(.any), boundPort: bound?.port ?? 0, into: area)
        case .socks4:
            return SOCKS4Request.writeReply(.granted, into: area)
        }
    }

    /// The request cannot be served: the protocol's error reply, then close.
    mutating func requestFailed(_ slot: Slot, _ request: ClientRequest, reason: CloseReason, errno: Errno?, detail: String) {
        let area = replyArea(slot)
        let timedOut = errno?.rawValue == ETIMEDOUT
        let length: Int?
        switch request {
        case .none:
            close(slot, reason: reason, errno: errno)
            return
        case .httpConnect, .httpForward:
            let status: HTTPProxyStatus = reason == .handshakeInvalid ? .badRequest
                : reason == .targetForbidden ? .forbidden : timedOut ? .gatewayTimeout : .badGateway
            length = status.write(into: area)
        case .socks5:
            let code: SOCKS5ReplyCode
            switch reason {
            case .nameUnresolved: code = timedOut ? .ttlExpired : .hostUnreachable
            case .handshakeInvalid: code = .generalFailure
            case .targetForbidden: code = .notAllowed
            default: code = SOCKS5ReplyCode(connectErrno: errno?.rawValue ?? 0)
            }
            length = SOCKS5Reply.write(code, into: area)
        case .socks4:
            length = SOCKS4Request.writeReply(.rejected, into: area)
        }
        // The handshake phase sends the reply; the peek, if any, is no longer wanted.
        slot.connection.pointee.phase = .handshaking(Handshaking(step: request.step))
        sendReply(slot, length: length, thenClose: reason, detail: detail)
    }
}

extension ClientRequest {
    /// The step whose protocol names this request in logs.
    var step: HandshakeStep {
        switch self {
        case .none, .httpConnect, .httpForward: return .httpRequest
        case .socks5: return .socks5Request
        case .socks4: return .socks4Request
        }
    }
}
