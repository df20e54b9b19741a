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
        connection.pointee.closeReason = reason
        connection.pointee.closeErrno = errno
        if resetClient && connection.pointee.clientSocket >= 0 { armResetOnClose(connection.pointee.clientSocket) }
        if resetUpstream && connection.pointee.upstreamSocket >= 0 { armResetOnClose(connection.pointee.upstreamSocket) }
        connection.pointee.state = .closing
        guard connection.pointee.inflight > 0 else {
            finishClosing(index)
            return
        }
        let cancelUserData = userData(.cancel, index)
        forEachDescriptor(connection) { descriptor in
            ring.prepareCancelAll(socket: descriptor, userData: cancelUserData)
            connection.pointee.inflight += 1
        }
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
        shared.adjustActive(service, by: -1)
        forEachDescriptor(connection) { descriptor in Glibc.close(descriptor) }
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
        case .relaying, .serving:
            let idle = services[Int(connection.pointee.service)].idleTimeoutMilliseconds
            guard idle > 0 else { return }
            let deadline = connection.pointee.lastActivity + idle
            if now >= deadline {
                close(index, reason: .idleTimeout)
            } else {
                timers.schedule(index, deadline: deadline, in: slab.slots)
            }
        case .connecting, .closing, .free:
            break
        }
    }

    // MARK: - Log lines

    /// The fields GOST puts on every service log line, taken out of the worker so a log write
    /// does not overlap an access to it.
    func logFields(_ index: Int32) -> ConnectionLogFields {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        return ConnectionLogFields(
            service: service.config.name, handler: service.config.kind.rawValue,
            client: connection.pointee.client, remote: connection.pointee.peer,
            local: service.config.listen.description)
    }

    mutating func logOpen(_ index: Int32) {
        guard log.enabled(.info) else { return }
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let client = connection.pointee.client.map(\.description) ?? "?"
        let target = service.config.targets.map(\.description).joined(separator: ",")
        let fields = logFields(index)
        let uniqueID = service.config.sendProxy?.uniqueID == true ? hex(uniqueID(of: index)) : nil
        log.write(.info) { line in
            fields.write(&line)
            if let uniqueID { line.field("uniqueId", uniqueID) }
            line.field("msg", "\(client) <> \(target)")
        }
    }

    mutating func logClose(_ index: Int32) {
        let connection = slab[index]
        let reason = connection.pointee.closeReason
        let level: LogLevel = reason == .finished || reason == .idleTimeout ? .info : .warn
        guard log.enabled(level) else { return }
        let service = services[Int(connection.pointee.service)]
        let client = connection.pointee.client.map(\.description) ?? "?"
        let target = service.config.targets.map(\.description).joined(separator: ",")
        let elapsed = monotonicNanoseconds() - connection.pointee.openedAt
        var message = "\(client) >< \(target)"
        if reason != .finished { message += ": \(reason.message)" }
        if connection.pointee.closeErrno != 0 { message += " (\(Errno(rawValue: connection.pointee.closeErrno)))" }
        let fields = logFields(index)
        let (input, output) = (connection.pointee.inbound.bytes, connection.pointee.outbound.bytes)
        log.write(level) { line in
            fields.write(&line)
            line.field("duration", milliseconds: elapsed)
            line.field("inputBytes", input)
            line.field("outputBytes", output)
            line.field("reason", reason.name)
            line.field("msg", message)
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

/// GOST's per-connection log fields.
struct ConnectionLogFields {
    let service: String
    let handler: String
    let client: IPEndpoint?
    let remote: IPEndpoint?
    let local: String

    func write(_ line: inout JSONLine) {
        line.field("kind", "service")
        line.field("service", service)
        line.field("handler", handler)
        line.field("listener", "tcp")
        if let client { line.field("client", client) }
        if let remote { line.field("remote", remote) }
        line.field("local", local)
    }
}
