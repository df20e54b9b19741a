import Glibc
import ProxyProtocol
import Uring

/// The serving phase: built-in HTTP services on the ring. `whoami` answers with the client
/// address it sees (after PROXY decoding) and the header it received; `metrics` with the
/// Prometheus text of all counters. HTTP/1.x with keep-alive and pipelining; bodies are read and
/// ignored. Each request must be complete within the service's request timeout from its first
/// byte; between requests the idle timeout applies.
extension Worker {
    mutating func startServing(_ slot: Slot, header: ProxyHeader?, consumed: Int) {
        let connection = slot.connection
        let service = self.service(slot)
        let chunk = scratch.base(connection.pointee.scratch)
        var serving = Serving()
        let notes = WhoamiText.notes(header: header, receiving: service.pointee.receive != nil)
        notes.withUnsafeBytes { (chunk + HTTPResponder.responseCapacity).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        serving.notesLength = UInt16(notes.count)
        // Drop the PROXY header; the request starts right after it.
        let remaining = Int(connection.pointee.scratchFilled) - consumed
        connection.pointee.inbound.bytes += UInt64(max(remaining, 0))
        if consumed > 0 && remaining > 0 {
            memmove(chunk + service.pointee.incomingOffset, chunk + service.pointee.incomingOffset + consumed, remaining)
        }
        connection.pointee.scratchFilled = UInt32(max(remaining, 0))
        // The first request's clock starts now: a client that connects and says nothing, or
        // says it one byte at a time, has `requestTimeout` in all.
        serving.requestDeadline = now + service.pointee.requestTimeoutMilliseconds
        connection.pointee.phase = .serving(serving)
        scheduleServingTimer(slot)
        if !connection.pointee.peeking { answerBufferedRequest(slot) }
    }

    /// The serving payload, changed in place.
    private func updateServing(_ slot: Slot, _ change: (inout Serving) -> Void) {
        guard case .serving(var serving) = slot.connection.pointee.phase else { return }
        change(&serving)
        slot.connection.pointee.phase = .serving(serving)
    }

    private func serving(_ slot: Slot) -> Serving? {
        if case .serving(let serving) = slot.connection.pointee.phase { return serving }
        return nil
    }

    /// One timer per connection: the earlier of the request deadline and the idle deadline.
    mutating func scheduleServingTimer(_ slot: Slot) {
        guard let serving = serving(slot) else { return }
        let idle = service(slot).pointee.idleTimeoutMilliseconds
        var deadline = serving.requestDeadline == 0 ? UInt64.max : serving.requestDeadline
        if idle > 0 { deadline = min(deadline, slot.connection.pointee.lastActivity + idle) }
        if deadline != .max { timers.schedule(slot.index, deadline: deadline, in: slab.slots) }
    }

    /// The timer fired: the request deadline or the idle timeout, if either has passed;
    /// otherwise it is set again.
    mutating func servingTimerFired(_ slot: Slot, _ serving: Serving) {
        let idle = service(slot).pointee.idleTimeoutMilliseconds
        if serving.requestDeadline != 0 && now >= serving.requestDeadline {
            close(slot, reason: .requestTimeout)
        } else if idle > 0 && now >= slot.connection.pointee.lastActivity + idle {
            close(slot, reason: .idleTimeout)
        } else {
            scheduleServingTimer(slot)
        }
    }

    mutating func requestReceived(_ slot: Slot, _ completion: Completion) {
        let connection = slot.connection
        guard let count = peekResult(slot, completion) else { return }
        if count == 0 {
            close(slot, reason: .finished)
            return
        }
        if serving(slot)?.requestDeadline == 0 {
            // The first byte of a keep-alive connection's next request starts its clock.
            let deadline = now + service(slot).pointee.requestTimeoutMilliseconds
            updateServing(slot) { $0.requestDeadline = deadline }
            scheduleServingTimer(slot)
        }
        connection.pointee.scratchFilled += UInt32(count)
        connection.pointee.inbound.bytes += UInt64(count)
        connection.pointee.lastActivity = now
        answerBufferedRequest(slot)
    }

    /// Answers the first complete request in the buffer, or waits for more bytes.
    private mutating func answerBufferedRequest(_ slot: Slot) {
        let connection = slot.connection
        let service = self.service(slot)
        let capacity = service.pointee.incomingCapacity
        let request = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + service.pointee.incomingOffset,
            count: Int(connection.pointee.scratchFilled))
        switch HTTPRequestHead.parse(request) {
        case .incomplete:
            if request.count >= capacity {
                respond(slot, status: "431 Request Header Fields Too Large", body: "request head too large\n", closing: .badRequest)
            } else {
                armPeek(slot)
            }
        case .invalid(let why):
            respond(slot, status: "400 Bad Request", body: why + "\n", closing: .badRequest)
        case .complete(let head):
            guard head.bodyLength <= capacity - head.headLength else {
                respond(slot, status: "413 Content Too Large", body: "request body too large\n", closing: .badRequest)
                return
            }
            if head.headLength + head.bodyLength > request.count {
                armPeek(slot)  // the body is still arriving
                return
            }
            updateServing(slot) {
                $0.requestLength = UInt32(head.headLength + head.bodyLength)
                $0.requestDeadline = 0
            }
            counters.add(.httpRequests, service: connection.pointee.service)
            let closing: CloseReason? = head.keepAlive ? nil : .finished
            // HEAD: the headers GET would get, Content-Length included, without the body.
            let headOnly = head.method == "HEAD"
            switch service.pointee.kind {
            case .metrics:
                switch head.path {
                case "/metrics", "/":
                    respond(slot, status: "200 OK", body: metrics.render(), closing: closing, headOnly: headOnly,
                            contentType: "text/plain; version=0.0.4; charset=utf-8")
                case "/live":
                    respond(slot, status: "200 OK", body: "live\n", closing: closing, headOnly: headOnly)
                case "/ready":
                    // Not ready once this worker drains: load balancers stop sending new clients.
                    if draining {
                        respond(slot, status: "503 Service Unavailable", body: "draining\n", closing: closing, headOnly: headOnly)
                    } else {
                        respond(slot, status: "200 OK", body: "ready\n", closing: closing, headOnly: headOnly)
                    }
                default:
                    respond(slot, status: "404 Not Found", body: "try /metrics, /live or /ready\n", closing: closing, headOnly: headOnly)
                }
            default:
                respond(slot, status: "200 OK", body: whoamiBody(slot, head: head), closing: closing, headOnly: headOnly)
            }
        }
    }

    private func whoamiBody(_ slot: Slot, head: HTTPRequestHead) -> String {
        let connection = slot.connection
        let notes = UnsafeRawBufferPointer(
            start: scratch.base(connection.pointee.scratch) + HTTPResponder.responseCapacity,
            count: Int(serving(slot)?.notesLength ?? 0))
        return WhoamiText.body(
            client: connection.pointee.client, remote: connection.pointee.peer, local: localEndpoint(slot),
            service: service(slot).pointee.name, notes: notes, head: head)
    }

    /// Writes status line, headers and body into the chunk (or a heap buffer when larger) and
    /// sends it; `closing`: close the connection with this reason once it is out; `headOnly`: the
    /// answer to HEAD, everything but the body.
    private mutating func respond(
        _ slot: Slot, status: String, body: String, closing: CloseReason?, headOnly: Bool = false,
        contentType: String = "text/plain; charset=utf-8"
    ) {
        var response = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\n"
        response += "Content-Length: \(body.utf8.count)\r\nConnection: \(closing == nil ? "keep-alive" : "close")\r\n\r\n"
        if !headOnly { response += body }
        var bytes = Array(response.utf8)
        var heap: UnsafeMutableRawPointer? = nil
        let destination: UnsafeMutableRawPointer
        if bytes.count <= HTTPResponder.responseCapacity {
            destination = scratch.base(slot.connection.pointee.scratch)
        } else {
            heap = .allocate(byteCount: bytes.count, alignment: 16)
            destination = heap!
        }
        bytes.withUnsafeMutableBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        updateServing(slot) {
            $0.closeAfterResponse = closing
            $0.heapResponse = heap
            $0.response = ByteRange(start: 0, end: UInt32(bytes.count))
        }
        sendResponse(slot)
    }

    private mutating func sendResponse(_ slot: Slot) {
        guard let serving = serving(slot) else { return }
        let base = serving.heapResponse ?? scratch.base(slot.connection.pointee.scratch)
        kernel.prepareSend(
            socket: slot.connection.pointee.clientSocket, from: base + Int(serving.response.start),
            length: serving.response.count, userData: slot.userData(.send, .outbound))
        slot.connection.pointee.inflight += 1
    }

    mutating func responseSent(_ slot: Slot, _ completion: Completion) {
        let connection = slot.connection
        let count: Int32
        switch completion.result {
        case .failure(let error):
            clientFailed(slot, error)
            return
        case .success(let sent):
            count = sent
        }
        connection.pointee.outbound.bytes += UInt64(count)
        connection.pointee.lastActivity = now
        guard var serving = serving(slot) else { return }
        serving.response.start += UInt32(count)
        if !serving.response.isEmpty {
            connection.pointee.phase = .serving(serving)
            sendResponse(slot)
            return
        }
        serving.heapResponse?.deallocate()
        serving.heapResponse = nil
        if let reason = serving.closeAfterResponse {
            connection.pointee.phase = .serving(serving)
            close(slot, reason: reason)
            return
        }
        // Keep-alive: drop the answered request, look at what was pipelined behind it.
        let service = self.service(slot)
        let incoming = scratch.base(connection.pointee.scratch) + service.pointee.incomingOffset
        let remaining = Int(connection.pointee.scratchFilled) - Int(serving.requestLength)
        if remaining > 0 { memmove(incoming, incoming + Int(serving.requestLength), remaining) }
        connection.pointee.scratchFilled = UInt32(max(remaining, 0))
        serving.requestLength = 0
        // Part of the next request is already here: its clock is running.
        if remaining > 0 { serving.requestDeadline = now + service.pointee.requestTimeoutMilliseconds }
        connection.pointee.phase = .serving(serving)
        if remaining > 0 { scheduleServingTimer(slot) }
        answerBufferedRequest(slot)
    }
}
