import Glibc
import ProxyProtocol
import Uring

/// Layout of an HTTP service's scratch chunk: response, PROXY notes, then the request.
enum HTTPResponder {
    static let responseCapacity = 4096
    static let notesCapacity = 2048
    static let requestCapacity = 8192
}

/// Built-in HTTP services on the ring: `whoami` answers with the client address it sees (after
/// PROXY decoding) and the header it received; `metrics` answers with the Prometheus text of all
/// counters. HTTP/1.x with keep-alive and pipelining; bodies are read and ignored.
extension Worker {
    mutating func startServing(_ index: Int32, header: ProxyHeader? = nil, consumed: Int = 0) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        connection.pointee.state = .serving
        let chunk = scratch.base(connection.pointee.scratch)
        writeNotes(index, header: header, into: chunk + HTTPResponder.responseCapacity)
        // Drop the PROXY header; the request starts right after it.
        let remaining = Int(connection.pointee.scratchFilled) - consumed
        connection.pointee.inbound.bytes += UInt64(max(remaining, 0))
        if consumed > 0 && remaining > 0 {
            memmove(chunk + service.incomingOffset, chunk + service.incomingOffset + consumed, remaining)
        }
        connection.pointee.scratchFilled = UInt32(remaining)
        // The first request's clock starts now: a client that connects and says nothing, or
        // says it one byte at a time, has `requestTimeout` in all.
        connection.pointee.requestDeadline = now + service.requestTimeoutMilliseconds
        scheduleServingTimer(index)
        if !connection.pointee.scratchReceiveArmed { answerBufferedRequest(index) }
    }

    /// One timer per connection: the earlier of the request deadline and the idle deadline.
    mutating func scheduleServingTimer(_ index: Int32) {
        let connection = slab[index]
        let idle = services[Int(connection.pointee.service)].idleTimeoutMilliseconds
        var deadline = connection.pointee.requestDeadline == 0 ? UInt64.max : connection.pointee.requestDeadline
        if idle > 0 { deadline = min(deadline, connection.pointee.lastActivity + idle) }
        if deadline != .max { timers.schedule(index, deadline: deadline, in: slab.slots) }
    }

    /// The serving connection's timer fired: the request deadline or the idle timeout, if either
    /// has passed; otherwise it is set again.
    mutating func servingTimerFired(_ index: Int32) {
        let connection = slab[index]
        let idle = services[Int(connection.pointee.service)].idleTimeoutMilliseconds
        if connection.pointee.requestDeadline != 0 && now >= connection.pointee.requestDeadline {
            close(index, reason: .requestTimeout)
        } else if idle > 0 && now >= connection.pointee.lastActivity + idle {
            close(index, reason: .idleTimeout)
        } else {
            scheduleServingTimer(index)
        }
    }

    mutating func requestReceived(_ index: Int32, _ completion: Completion) {
        let connection = slab[index]
        if completion.result < 0 {
            clientFailed(index, completion.result)
            return
        }
        if completion.result == 0 {
            close(index, reason: .finished)
            return
        }
        if connection.pointee.requestDeadline == 0 {
            // The first byte of a keep-alive connection's next request starts its clock.
            connection.pointee.requestDeadline = now + services[Int(connection.pointee.service)].requestTimeoutMilliseconds
            scheduleServingTimer(index)
        }
        connection.pointee.scratchFilled += UInt32(completion.result)
        connection.pointee.inbound.bytes += UInt64(completion.result)
        connection.pointee.lastActivity = now
        answerBufferedRequest(index)
    }

    /// Answers the first complete request in the buffer, or waits for more bytes.
    private mutating func answerBufferedRequest(_ index: Int32) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let request = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + service.incomingOffset,
            count: Int(connection.pointee.scratchFilled))
        switch HTTPRequestHead.parse(request) {
        case .incomplete:
            if request.count >= service.incomingCapacity {
                connection.pointee.closeReason = .badRequest
                respond(index, status: "431 Request Header Fields Too Large", body: "request head too large\n", close: true)
            } else {
                armScratchReceive(index)
            }
        case .invalid(let why):
            connection.pointee.closeReason = .badRequest
            respond(index, status: "400 Bad Request", body: why + "\n", close: true)
        case .complete(let head):
            guard head.bodyLength <= service.incomingCapacity - head.headLength else {
                connection.pointee.closeReason = .badRequest
                respond(index, status: "413 Content Too Large", body: "request body too large\n", close: true)
                return
            }
            if head.headLength + head.bodyLength > request.count {
                armScratchReceive(index)  // the body is still arriving
                return
            }
            connection.pointee.requestLength = UInt32(head.headLength + head.bodyLength)
            connection.pointee.requestDeadline = 0
            counters.add(.httpRequests, service: connection.pointee.service)
            switch service.config.kind {
            case .metrics:
                if head.path == "/metrics" || head.path == "/" {
                    respond(index, status: "200 OK", body: metrics.render(), close: !head.keepAlive,
                            contentType: "text/plain; version=0.0.4; charset=utf-8")
                } else {
                    respond(index, status: "404 Not Found", body: "try /metrics\n", close: !head.keepAlive)
                }
            default:
                respond(index, status: "200 OK", body: whoamiBody(index, head: head), close: !head.keepAlive)
            }
        }
    }

    private func whoamiBody(_ index: Int32, head: HTTPRequestHead) -> String {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        var body = "client: \(connection.pointee.client.map(\.description) ?? "unknown")\n"
        body += "remote: \(connection.pointee.peer.map(\.description) ?? "unknown")\n"
        if let local = localEndpoint(of: connection.pointee.clientSocket) { body += "local: \(local)\n" }
        body += "service: \(service.config.name)\n"
        let notes = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + HTTPResponder.responseCapacity,
            count: Int(connection.pointee.notesLength))
        body += String(decoding: notes, as: UTF8.self)
        body += "request: \(head.method) \(head.path) \(head.version)\n"
        return body
    }

    /// What the received PROXY header said, kept as text for every response on the connection.
    private func writeNotes(_ index: Int32, header: ProxyHeader?, into notes: UnsafeMutableRawPointer) {
        let connection = slab[index]
        var text: String
        if let header {
            text = "proxy: v\(header.version.rawValue) \(header.command == .local ? "LOCAL" : "PROXY")\n"
            if let source = header.source { text += "proxy-source: \(source)\n" }
            if let destination = header.destination { text += "proxy-destination: \(destination)\n" }
            for tlv in header.tlvs {
                text += "tlv: \(tlvName(tlv.type)) (0x\(hex([tlv.type]))) \(tlv.value.count) bytes: \(tlvText(tlv))\n"
            }
        } else {
            text = services[Int(connection.pointee.service)].config.receiveProxy == nil
                ? "proxy: not accepted on this service\n" : "proxy: none\n"
        }
        var bytes = Array(text.utf8.prefix(HTTPResponder.notesCapacity))
        if text.utf8.count > HTTPResponder.notesCapacity {
            bytes.replaceSubrange((bytes.count - 4)..., with: Array("...\n".utf8))
        }
        bytes.withUnsafeBytes { notes.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        connection.pointee.notesLength = UInt16(bytes.count)
    }

    private func tlvName(_ type: UInt8) -> String {
        switch type {
        case ProxyTLV.alpn: return "ALPN"
        case ProxyTLV.authority: return "AUTHORITY"
        case ProxyTLV.crc32c: return "CRC32C"
        case ProxyTLV.noop: return "NOOP"
        case ProxyTLV.uniqueID: return "UNIQUE_ID"
        case ProxyTLV.ssl: return "SSL"
        case ProxyTLV.netns: return "NETNS"
        default: return "TYPE"
        }
    }

    /// Printable values as text, anything else as hex.
    private func tlvText(_ tlv: ProxyTLV) -> String {
        let printable = !tlv.value.isEmpty && tlv.value.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if printable && tlv.type != ProxyTLV.uniqueID && tlv.type != ProxyTLV.crc32c {
            return String(decoding: tlv.value, as: UTF8.self)
        }
        return hex(tlv.value)
    }

    /// Writes status line, headers and body into the chunk (or a heap buffer when larger) and
    /// sends it.
    private mutating func respond(
        _ index: Int32, status: String, body: String, close: Bool, contentType: String = "text/plain; charset=utf-8"
    ) {
        let connection = slab[index]
        var response = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\n"
        response += "Content-Length: \(body.utf8.count)\r\nConnection: \(close ? "close" : "keep-alive")\r\n\r\n"
        response += body
        connection.pointee.closeAfterResponse = close
        var bytes = Array(response.utf8)
        let destination: UnsafeMutableRawPointer
        if bytes.count <= HTTPResponder.responseCapacity {
            destination = scratch.base(connection.pointee.scratch)
        } else {
            destination = .allocate(byteCount: bytes.count, alignment: 16)
            connection.pointee.heapResponse = destination
        }
        bytes.withUnsafeMutableBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        connection.pointee.preambleStart = 0
        connection.pointee.preambleEnd = UInt32(bytes.count)
        sendResponse(index)
    }

    private mutating func sendResponse(_ index: Int32) {
        let connection = slab[index]
        let base = connection.pointee.heapResponse ?? scratch.base(connection.pointee.scratch)
        ring.prepareSend(
            socket: connection.pointee.clientSocket, from: base + Int(connection.pointee.preambleStart),
            length: Int(connection.pointee.preambleEnd - connection.pointee.preambleStart),
            userData: userData(.sendClient, index))
        connection.pointee.inflight += 1
    }

    mutating func handleResponseSent(_ index: Int32, _ completion: Completion) {
        let connection = slab[index]
        guard completion.result >= 0 else {
            clientFailed(index, completion.result)
            return
        }
        connection.pointee.outbound.bytes += UInt64(completion.result)
        connection.pointee.lastActivity = now
        connection.pointee.preambleStart += UInt32(completion.result)
        if connection.pointee.preambleStart < connection.pointee.preambleEnd {
            sendResponse(index)
            return
        }
        if let heap = connection.pointee.heapResponse {
            heap.deallocate()
            connection.pointee.heapResponse = nil
        }
        if connection.pointee.closeAfterResponse {
            // .finished unless the request was refused (.badRequest).
            close(index, reason: connection.pointee.closeReason)
            return
        }
        // Keep-alive: drop the answered request, look at what was pipelined behind it.
        let service = services[Int(connection.pointee.service)]
        let incoming = scratch.base(connection.pointee.scratch) + service.incomingOffset
        let remaining = Int(connection.pointee.scratchFilled) - Int(connection.pointee.requestLength)
        if remaining > 0 { memmove(incoming, incoming + Int(connection.pointee.requestLength), remaining) }
        connection.pointee.scratchFilled = UInt32(max(remaining, 0))
        connection.pointee.requestLength = 0
        if remaining > 0 {
            // Part of the next request is already here: its clock is running.
            connection.pointee.requestDeadline = now + service.requestTimeoutMilliseconds
            scheduleServingTimer(index)
        }
        answerBufferedRequest(index)
    }
}
