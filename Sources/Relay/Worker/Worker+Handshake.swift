import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The handshaking phase of a proxy service: the client's messages are read into the incoming
/// area of the scratch chunk, parsed each time more bytes arrived, and answered from the reply
/// area, one reply in flight at a time. Auto services let the first byte choose the protocol.
/// The phase ends at a request to connect somewhere (`requestTarget`) or at an error reply and
/// a close. Its deadline runs from its start until the upstream connect begins.
extension Worker {
    mutating func startHandshake(_ slot: Slot, consumed: Int) {
        slot.connection.pointee.phase = .handshaking(Handshaking(consumed: UInt32(consumed)))
        timers.schedule(slot.index, deadline: now + service(slot).pointee.handshakeTimeoutMilliseconds, in: slab.slots)
        advanceHandshake(slot)
    }

    /// (.handshaking, .peek): more of the client's request.
    mutating func handshakeReceived(_ slot: Slot, _ completion: Completion) {
        guard let count = peekResult(slot, completion) else { return }
        guard count > 0 else {
            refuseHandshake(slot, .handshakeInvalid, detail: "the client closed before its request was complete")
            return
        }
        slot.connection.pointee.scratchFilled += UInt32(count)
        slot.connection.pointee.lastActivity = now
        advanceHandshake(slot)
    }

    /// Parses what the next message's bytes say, and acts: wait for more, reply, or go on.
    mutating func advanceHandshake(_ slot: Slot) {
        guard case .handshaking(var handshaking) = slot.connection.pointee.phase, handshaking.reply.isEmpty else { return }
        let service = self.service(slot)
        let messageStart = service.pointee.incomingOffset + Int(handshaking.consumed)
        let bytes = UnsafeRawBufferPointer(
            start: scratch.base(slot.connection.pointee.scratch) + messageStart,
            count: Int(slot.connection.pointee.scratchFilled) - Int(handshaking.consumed))
        switch handshaking.step {
        case .choosing:
            guard let first = bytes.first else {
                awaitMoreOfRequest(slot)
                return
            }
            let protocols = service.pointee.proxyProtocols
            if first == 0x05 && protocols.contains(.socks5) {
                handshaking.step = .socks5Greeting
            } else if first == 0x04 && protocols.contains(.socks4) {
                handshaking.step = .socks4Request
            } else if protocols.contains(.http) && first != 0x05 && first != 0x04 {
                handshaking.step = .httpRequest
            } else {
                refuseHandshake(slot, .handshakeInvalid, detail: "the first byte (0x\(hex([first]))) is not \(expectedProtocols(protocols))")
                return
            }
            slot.connection.pointee.phase = .handshaking(handshaking)
            advanceHandshake(slot)
        case .socks5Greeting:
            socks5GreetingStep(slot, handshaking, bytes)
        case .socks5Authentication:
            socks5AuthenticationStep(slot, handshaking, bytes)
        case .socks5Request:
            socks5RequestStep(slot, handshaking, bytes, messageStart: messageStart)
        case .socks4Request:
            socks4RequestStep(slot, handshaking, bytes, messageStart: messageStart)
        case .httpRequest:
            httpRequestStep(slot, handshaking, bytes, messageStart: messageStart)
        }
    }

    /// The message is not complete: read on, unless the incoming area is full.
    mutating func awaitMoreOfRequest(_ slot: Slot) {
        let service = self.service(slot)
        guard Int(slot.connection.pointee.scratchFilled) < service.pointee.incomingCapacity else {
            if case .handshaking(let handshaking) = slot.connection.pointee.phase, handshaking.step == .httpRequest {
                let length = HTTPProxyStatus.headersTooLarge.write(into: replyArea(slot))
                sendReply(slot, length: length, thenClose: .handshakeInvalid,
                          detail: "request head larger than \(service.pointee.incomingCapacity) bytes")
            } else {
                refuseHandshake(slot, .handshakeInvalid, detail: "request larger than \(service.pointee.incomingCapacity) bytes")
            }
            return
        }
        if !slot.connection.pointee.peeking { armPeek(slot) }
    }

    /// The reply area of the connection's chunk.
    func replyArea(_ slot: Slot) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: scratch.base(slot.connection.pointee.scratch), count: ProxyScratchLayout.replyCapacity)
    }

    /// Sends the first `length` bytes of the reply area to the client; afterwards the handshake
    /// reads on, or closes with `reason` (logged with `detail`). `length` nil (a reply that did
    /// not fit, which the fixed replies never do) closes at once.
    mutating func sendReply(_ slot: Slot, length: Int?, thenClose reason: CloseReason? = nil, detail: String = "") {
        guard let length, length > 0 else {
            if let reason { refuseHandshake(slot, reason, detail: detail) } else { internalError(slot, "a handshake reply did not fit") }
            return
        }
        var handshaking: Handshaking
        if case .handshaking(let current) = slot.connection.pointee.phase {
            handshaking = current
        } else {
            // An upstream that failed: the error reply is the last thing this connection does.
            handshaking = Handshaking(step: .httpRequest)
        }
        if let reason {
            logRefusal(slot, reason, detail: detail)
            handshaking.closeAfterReply = reason
        }
        handshaking.reply = ByteRange(start: 0, end: UInt32(length))
        slot.connection.pointee.phase = .handshaking(handshaking)
        prepareReplySend(slot, handshaking.reply)
    }

    /// The unsent part of a reply, from the reply area to the client.
    private mutating func prepareReplySend(_ slot: Slot, _ unsent: ByteRange) {
        kernel.prepareSend(
            socket: slot.connection.pointee.clientSocket, from: scratch.base(slot.connection.pointee.scratch) + Int(unsent.start),
            length: unsent.count, userData: slot.userData(.send, .outbound))
        slot.connection.pointee.inflight += 1
    }

    /// (.handshaking, .send): a reply (or part of it) went out.
    mutating func handshakeReplySent(_ slot: Slot, _ completion: Completion) {
        guard case .handshaking(var handshaking) = slot.connection.pointee.phase else { return }
        switch completion.result {
        case .failure(let error):
            clientFailed(slot, error)
            return
        case .success(let count):
            handshaking.reply.start += UInt32(count)
        }
        slot.connection.pointee.lastActivity = now
        if !handshaking.reply.isEmpty {
            slot.connection.pointee.phase = .handshaking(handshaking)
            prepareReplySend(slot, handshaking.reply)
            return
        }
        handshaking.reply = ByteRange()
        slot.connection.pointee.phase = .handshaking(handshaking)
        if let reason = handshaking.closeAfterReply {
            close(slot, reason: reason)
        } else {
            advanceHandshake(slot)
        }
    }

    /// The handshake deadline passed (handshaking or resolving).
    mutating func handshakeTimedOut(_ slot: Slot) {
        let timeout = service(slot).pointee.handshakeTimeoutMilliseconds
        switch slot.connection.pointee.phase {
        case .handshaking(let handshaking) where handshaking.reply.isEmpty && handshaking.step == .httpRequest:
            let length = HTTPProxyStatus.requestTimeout.write(into: replyArea(slot))
            sendReply(slot, length: length, thenClose: .handshakeTimeout, detail: "no complete request within \(timeout) ms")
        case .resolving(let resolving):
            requestFailed(slot, resolving.request, reason: .nameUnresolved, errno: Errno(rawValue: ETIMEDOUT),
                          detail: "no answer for the requested name within \(timeout) ms")
        default:
            refuseHandshake(slot, .handshakeTimeout, detail: "no complete request within \(timeout) ms")
        }
    }

    /// Closes without a reply (none is owed, or the protocol has none for this).
    mutating func refuseHandshake(_ slot: Slot, _ reason: CloseReason, detail: String) {
        logRefusal(slot, reason, detail: detail)
        close(slot, reason: reason)
    }

    /// A refused handshake: one counter, one line naming the protocol and why.
    private mutating func logRefusal(_ slot: Slot, _ reason: CloseReason, detail: String) {
        counters.add(.handshakeFailures, service: slot.connection.pointee.service)
        let fields = logFields(slot)
        let protocolName = handshakeProtocolName(slot)
        log.write(.warn) { line in
            fields.write(&line, handler: protocolName)
            line.field("msg", "\(reason.message): \(detail)")
        }
    }

    /// The protocol a handshake speaks, for the `handler` field (`socks5`, `http`, ...).
    func handshakeProtocolName(_ slot: Slot) -> String? {
        guard case .handshaking(let handshaking) = slot.connection.pointee.phase else { return nil }
        switch handshaking.step {
        case .choosing: return nil
        case .socks5Greeting, .socks5Authentication, .socks5Request: return "socks5"
        case .socks4Request: return "socks4"
        case .httpRequest: return "http"
        }
    }

    private func expectedProtocols(_ protocols: ProxyHandlerProtocols) -> String {
        var names: [String] = []
        if protocols.contains(.socks5) { names.append("SOCKS5 (0x05)") }
        if protocols.contains(.socks4) { names.append("SOCKS4 (0x04)") }
        if protocols.contains(.http) { names.append("an HTTP request") }
        return names.joined(separator: " or ")
    }
}
