import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// Through `-F` proxy hops, as GOST's chain does: the first hop's node is connected to; then, hop
/// by hop, an optional PROXY header (the real client as source, the service's own address as
/// destination) and the hop's handshake (HTTP CONNECT, SOCKS5 greeting/auth/CONNECT, SOCKS4)
/// asking for the next hop's node, or at the last hop for the destination. Messages are built
/// in the chunk's negotiation area, one send in flight, and answers read back into it. The
/// whole negotiation has the service's dial timeout.
extension Worker {
    /// The first hop's node answered.
    mutating func startNegotiating(_ slot: Slot, _ connecting: Connecting) {
        var negotiating = Negotiating()
        negotiating.request = connecting.request
        negotiating.preamble = connecting.preamble
        negotiating.destination = connecting.destination
        timers.schedule(slot.index, deadline: now + service(slot).pointee.connectTimeoutMilliseconds, in: slab.slots)
        startHop(slot, negotiating)
    }

    private func negotiationArea(_ slot: Slot) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(
            start: scratch.base(slot.connection.pointee.scratch) + ProxyScratchLayout.negotiationOffset,
            count: ProxyScratchLayout.negotiationCapacity)
    }

    /// Hop `negotiating.hop`: its PROXY header, if asked for, and the connector's first message.
    private mutating func startHop(_ slot: Slot, _ current: Negotiating) {
        var negotiating = current
        let hop = service(slot).pointee.chain[Int(negotiating.hop)]
        let area = negotiationArea(slot)
        var length = 0
        if let version = hop.sendProxy {
            guard let source = slot.connection.pointee.client, let destination = localEndpoint(slot) else {
                hopFailed(slot, negotiating, errno: nil, detail: "the client's or the service's address is unknown, so no PROXY header")
                return
            }
            let header = ProxyHeader.tcp(source: source, destination: destination, version: version == .v1 ? .v1 : .v2, tlvs: [])
            guard let written = try? ProxyHeaderEncoder.encode(header, appendingCRC32C: false, into: area) else {
                hopFailed(slot, negotiating, errno: nil, detail: "the PROXY header cannot be encoded")
                return
            }
            counters.add(.proxyHeadersSent, service: slot.connection.pointee.service)
            length = written
        }
        let rest = UnsafeMutableRawBufferPointer(rebasing: area[length...])
        let message: Int?
        switch hop.connector {
        case .http:
            negotiating.step = .httpConnect
            message = withNextAddress(slot, negotiating) { target, names in
                HTTPConnectClient.writeConnect(to: target, names: names, credentials: hop.credentials, into: rest)
            }
        case .socks5:
            negotiating.step = .socks5Greeting
            message = SOCKS5Client.writeGreeting(offeringCredentials: hop.credentials != nil, into: rest)
        case .socks4:
            negotiating.step = .socks4Connect
            message = withNextAddress(slot, negotiating) { target, names in
                SOCKS4Client.writeConnect(to: target, names: names, into: rest)
            }
        case .forward:
            // Configuration keeps forward hops out of chains.
            message = nil
        }
        guard let message else {
            hopFailed(slot, negotiating, errno: nil, detail: "the request does not fit (\(hop.connector.rawValue))")
            return
        }
        sendToHop(slot, &negotiating, length: length + message)
    }

    /// Calls `body` with what hop `negotiating.hop` is asked to connect to: the next hop's node,
    /// or the destination.
    private func withNextAddress<R>(
        _ slot: Slot, _ negotiating: Negotiating, _ body: (RequestedTarget, UnsafeRawBufferPointer) -> R
    ) -> R {
        let chain = service(slot).pointee.chain
        let next = Int(negotiating.hop) + 1
        if next < chain.count {
            let nodes = chain[next].nodes
            let node = nodes[Int(slot.connection.pointee.id % UInt64(nodes.count))]
            if let address = IPAddress(node.host) { return body(RequestedTarget(host: .address(address), port: node.port), UnsafeRawBufferPointer(start: nil, count: 0)) }
            var host = node.host.isEmpty ? "127.0.0.1" : node.host
            return host.withUTF8 { names in
                body(RequestedTarget(host: .name(start: 0, count: names.count), port: node.port), UnsafeRawBufferPointer(names))
            }
        }
        let destination = negotiating.destination
        if let address = destination.address { return body(RequestedTarget(host: .address(address), port: destination.port), UnsafeRawBufferPointer(start: nil, count: 0)) }
        let names = UnsafeRawBufferPointer(
            start: scratch.base(slot.connection.pointee.scratch) + ProxyScratchLayout.destinationOffset, count: Int(destination.nameLength))
        return body(RequestedTarget(host: .name(start: 0, count: names.count), port: destination.port), names)
    }

    private mutating func sendToHop(_ slot: Slot, _ negotiating: inout Negotiating, length: Int) {
        negotiating.unsent = ByteRange(start: UInt32(ProxyScratchLayout.negotiationOffset), end: UInt32(ProxyScratchLayout.negotiationOffset + length))
        negotiating.received = 0
        slot.connection.pointee.phase = .negotiating(negotiating)
        prepareHopSend(slot, negotiating.unsent)
    }

    private mutating func prepareHopSend(_ slot: Slot, _ unsent: ByteRange) {
        kernel.prepareSend(
            socket: slot.connection.pointee.upstreamSocket, from: scratch.base(slot.connection.pointee.scratch) + Int(unsent.start),
            length: unsent.count, userData: slot.userData(.hopSend))
        slot.connection.pointee.inflight += 1
    }

    private mutating func prepareHopReceive(_ slot: Slot, _ negotiating: Negotiating) {
        let start = ProxyScratchLayout.negotiationOffset + Int(negotiating.received)
        let room = ProxyScratchLayout.negotiationCapacity - Int(negotiating.received)
        guard room > 0 else {
            hopFailed(slot, negotiating, errno: nil, detail: "its answer is longer than \(ProxyScratchLayout.negotiationCapacity) bytes")
            return
        }
        kernel.prepareReceive(
            socket: slot.connection.pointee.upstreamSocket, into: scratch.base(slot.connection.pointee.scratch) + start,
            length: room, userData: slot.userData(.hopReceive))
        slot.connection.pointee.inflight += 1
    }

    /// (.negotiating, .hopSend)
    mutating func hopSent(_ slot: Slot, _ completion: Completion) {
        guard case .negotiating(var negotiating) = slot.connection.pointee.phase else { return }
        switch completion.result {
        case .failure(let error):
            hopFailed(slot, negotiating, errno: error, detail: "send: \(error)")
        case .success(let count):
            negotiating.unsent.start += UInt32(count)
            slot.connection.pointee.phase = .negotiating(negotiating)
            if negotiating.unsent.isEmpty {
                prepareHopReceive(slot, negotiating)
            } else {
                prepareHopSend(slot, negotiating.unsent)
            }
        }
    }

    /// (.negotiating, .hopReceive): more of the hop's answer.
    mutating func hopReceived(_ slot: Slot, _ completion: Completion) {
        guard case .negotiating(var negotiating) = slot.connection.pointee.phase else { return }
        switch completion.result {
        case .failure(let error):
            hopFailed(slot, negotiating, errno: error, detail: "receive: \(error)")
            return
        case .success(0):
            hopFailed(slot, negotiating, errno: nil, detail: "it closed the connection during its handshake")
            return
        case .success(let count):
            negotiating.received += UInt32(count)
        }
        slot.connection.pointee.phase = .negotiating(negotiating)
        let hop = service(slot).pointee.chain[Int(negotiating.hop)]
        let answer = UnsafeRawBufferPointer(
            start: scratch.base(slot.connection.pointee.scratch) + ProxyScratchLayout.negotiationOffset, count: Int(negotiating.received))
        let area = negotiationArea(slot)
        switch negotiating.step {
        case .httpConnect:
            switch HTTPConnectClient.parseResponse(answer, maximumHeadLength: ProxyScratchLayout.negotiationCapacity) {
            case .incomplete: prepareHopReceive(slot, negotiating)
            case .invalid(let reason, _): hopFailed(slot, negotiating, errno: nil, detail: "malformed CONNECT answer: \(reason)")
            case .complete(let response, let consumed):
                guard response.succeeded else {
                    let refused = response.statusCode == 403 || response.statusCode == 407
                    hopFailed(slot, negotiating, errno: refused ? Errno(rawValue: ECONNREFUSED) : response.statusCode == 504 ? Errno(rawValue: ETIMEDOUT) : nil,
                              detail: "CONNECT answered \(response.statusCode)")
                    return
                }
                hopDone(slot, negotiating, consumed: consumed)
            }
        case .socks5Greeting:
            switch SOCKS5Client.parseMethodSelection(answer, offeredCredentials: hop.credentials != nil) {
            case .incomplete: prepareHopReceive(slot, negotiating)
            case .invalid(let reason, _): hopFailed(slot, negotiating, errno: Errno(rawValue: ECONNREFUSED), detail: reason)
            case .complete(let method, _):
                if method == .usernamePassword, let credentials = hop.credentials {
                    negotiating.step = .socks5Authentication
                    guard let length = SOCKS5Client.writeCredentials(credentials, into: area) else {
                        hopFailed(slot, negotiating, errno: nil, detail: "credentials do not fit")
                        return
                    }
                    sendToHop(slot, &negotiating, length: length)
                } else {
                    sendSOCKS5Connect(slot, &negotiating)
                }
            }
        case .socks5Authentication:
            switch SOCKS5Client.parseAuthenticationStatus(answer) {
            case .incomplete: prepareHopReceive(slot, negotiating)
            case .invalid(let reason, _): hopFailed(slot, negotiating, errno: Errno(rawValue: ECONNREFUSED), detail: reason)
            case .complete(let status, _):
                guard status == .success else {
                    hopFailed(slot, negotiating, errno: Errno(rawValue: ECONNREFUSED), detail: "it refused the user and password")
                    return
                }
                sendSOCKS5Connect(slot, &negotiating)
            }
        case .socks5Connect:
            switch SOCKS5Client.parseReply(answer) {
            case .incomplete: prepareHopReceive(slot, negotiating)
            case .invalid(let reason, _): hopFailed(slot, negotiating, errno: nil, detail: "malformed SOCKS5 reply: \(reason)")
            case .complete(let reply, let consumed):
                guard reply.succeeded else {
                    hopFailed(slot, negotiating, socksCode: reply.code, detail: "CONNECT answered \(reply.replyCode.map { "\($0)" } ?? "code \(reply.code)")")
                    return
                }
                hopDone(slot, negotiating, consumed: consumed)
            }
        case .socks4Connect:
            switch SOCKS4Client.parseReply(answer) {
            case .incomplete: prepareHopReceive(slot, negotiating)
            case .invalid(let reason, _): hopFailed(slot, negotiating, errno: nil, detail: "malformed SOCKS4 reply: \(reason)")
            case .complete(let reply, let consumed):
                guard reply.granted else {
                    hopFailed(slot, negotiating, errno: Errno(rawValue: ECONNREFUSED), detail: "request rejected (code 0x\(hex([reply.code])))")
                    return
                }
                hopDone(slot, negotiating, consumed: consumed)
            }
        }
    }

    private mutating func sendSOCKS5Connect(_ slot: Slot, _ negotiating: inout Negotiating) {
        negotiating.step = .socks5Connect
        let area = negotiationArea(slot)
        let length = withNextAddress(slot, negotiating) { target, names in
            SOCKS5Client.writeConnect(to: target, names: names, into: area)
        }
        guard let length else {
            hopFailed(slot, negotiating, errno: nil, detail: "the CONNECT request does not fit")
            return
        }
        sendToHop(slot, &negotiating, length: length)
    }

    /// The hop's tunnel is up. Bytes after its answer already belong to the next hop (a
    /// protocol error) or, at the last hop, to the destination's first words to the client.
    private mutating func hopDone(_ slot: Slot, _ current: Negotiating, consumed: Int) {
        var negotiating = current
        let extra = Int(negotiating.received) - consumed
        let chain = service(slot).pointee.chain
        if Int(negotiating.hop) + 1 < chain.count {
            guard extra == 0 else {
                hopFailed(slot, negotiating, errno: nil, detail: "\(extra) bytes after its answer, before the next hop spoke")
                return
            }
            negotiating.hop += 1
            startHop(slot, negotiating)
            return
        }
        timers.cancel(slot.index, in: slab.slots)
        // The client's reply (proxy services), then what the destination already said.
        let chunk = scratch.base(slot.connection.pointee.scratch)
        var reply = ByteRange()
        if negotiating.request != .none {
            guard let length = successReply(slot, negotiating.request) else {
                internalError(slot, "the \(negotiating.request) success reply does not fit")
                return
            }
            reply.end = UInt32(length)
        }
        guard Int(reply.end) + extra <= ProxyScratchLayout.replyCapacity else {
            hopFailed(slot, negotiating, errno: nil, detail: "\(extra) bytes after its answer do not fit")
            return
        }
        if extra > 0 {
            memmove(chunk + Int(reply.end), chunk + ProxyScratchLayout.negotiationOffset + consumed, extra)
            reply.end += UInt32(extra)
            slot.connection.pointee.outbound.bytes += UInt64(extra)
        }
        logThroughChain(slot, negotiating)
        startRelaying(slot, preamble: negotiating.preamble, reply: reply)
    }

    /// `R <-> destination` once the last hop's tunnel is up, naming the hops.
    private mutating func logThroughChain(_ slot: Slot, _ negotiating: Negotiating) {
        guard log.enabled(.info) else { return }
        let destination = withNextAddress(slot, negotiating) { target, names in
            switch target.host {
            case .address(let address): return IPEndpoint(address: address, port: target.port).description
            case .name: return "\(String(decoding: names, as: UTF8.self)):\(target.port)"
            }
        }
        let hops = service(slot).pointee.chain.map(\.description).joined(separator: " -> ")
        let fields = logFields(slot)
        log.write(.info) { line in
            fields.write(&line)
            line.field("dst", destination)
            line.field("chain", hops)
            line.field("msg", "\(fields.remoteText) <-> \(destination) via \(hops)")
        }
    }

    /// The SOCKS5 code a hop answered passes on to a SOCKS5 client; everyone else gets what the
    /// errno it maps to means.
    private mutating func hopFailed(_ slot: Slot, _ negotiating: Negotiating, socksCode: UInt8, detail: String) {
        let errno: Errno?
        switch SOCKS5ReplyCode(rawValue: socksCode) {
        case .connectionRefused: errno = Errno(rawValue: ECONNREFUSED)
        case .networkUnreachable: errno = Errno(rawValue: ENETUNREACH)
        case .hostUnreachable: errno = Errno(rawValue: EHOSTUNREACH)
        case .ttlExpired: errno = Errno(rawValue: ETIMEDOUT)
        default: errno = nil
        }
        hopFailed(slot, negotiating, errno: errno, detail: detail)
    }

    /// A hop refused, failed or timed out: a line naming it, then the client's error reply (proxy
    /// services) or the close.
    mutating func hopFailed(_ slot: Slot, _ negotiating: Negotiating, errno: Errno?, detail: String) {
        let service = self.service(slot)
        let hop = service.pointee.chain[Int(negotiating.hop)]
        counters.add(.upstreamConnectFailures, service: slot.connection.pointee.service)
        if errno?.rawValue == ETIMEDOUT { counters.add(.upstreamConnectTimeouts, service: slot.connection.pointee.service) }
        let fields = logFields(slot)
        let position = Int(negotiating.hop) + 1
        log.write(.warn) { line in
            fields.write(&line)
            line.field("hop", hop.description)
            line.field("msg", "hop \(position) (\(hop.description)): \(detail)")
        }
        // The hop's socket goes with the connection; shutting it now ends a receive in flight.
        kernel.shutdownNow(slot.connection.pointee.upstreamSocket)
        let detail = "through hop \(position) (\(hop.description)): \(detail)"
        if negotiating.request == .none {
            close(slot, reason: .upstreamUnavailable, errno: errno)
        } else {
            requestFailed(slot, negotiating.request, reason: .upstreamUnavailable, errno: errno, detail: detail)
        }
    }
}
