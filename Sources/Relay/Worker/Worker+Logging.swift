import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// Connection log lines, shaped like GOST's forward handler (`"kind":"handler"`): `R <> L` when
/// accepted (info), `R >> T` when a connect starts (debug), `R <-> T` once the upstream answered, `R >< L` on close with `duration` (nanoseconds), `inputBytes` (client to
/// upstream) and `outputBytes`. `sid` is the connection's unique id, the same 16 bytes a PROXY v2
/// UNIQUE_ID TLV carries upstream, so both ends' logs can be joined.
extension Worker {
    /// The fields on every line about a connection, copied out of the worker so that writing
    /// the line does not overlap an access to it.
    func logFields(_ slot: Slot) -> ConnectionLogFields {
        let connection = slot.connection
        let service = self.service(slot)
        // A wildcard listener's address says nothing; the socket knows which one the client reached.
        let endpoint = service.pointee.wildcardListener ? localEndpoint(slot) : nil
        return ConnectionLogFields(
            service: service.pointee.name, handler: service.pointee.handler,
            client: connection.pointee.client, remote: connection.pointee.peer, localEndpoint: endpoint,
            listenText: service.pointee.listenText, processStart: settings.processStart, id: connection.pointee.id)
    }

    mutating func logAccepted(_ slot: Slot) {
        guard log.enabled(.info) else { return }
        let fields = logFields(slot)
        log.write(.info) { line in
            fields.write(&line)
            line.field("msg") { text in
                fields.appendRemote(&text)
                text.appendRaw(" <> ")
                fields.appendLocal(&text)
            }
        }
    }

    mutating func logDialing(_ slot: Slot, to endpoint: IPEndpoint, _ connecting: Connecting) {
        logUpstream(slot, .debug, " >> ", endpoint, connecting)
    }

    /// `connecting` names the target for the `node` field (nil after a chain: the line is about
    /// the destination, not the first hop).
    mutating func logConnected(_ slot: Slot, to endpoint: IPEndpoint, _ connecting: Connecting? = nil) {
        logUpstream(slot, .info, " <-> ", endpoint, connecting)
    }

    /// `R >> T` and `R <-> T`: the connection's fields, the node and the upstream address.
    private mutating func logUpstream(
        _ slot: Slot, _ level: LogLevel, _ arrow: StaticString, _ endpoint: IPEndpoint, _ connecting: Connecting?
    ) {
        guard log.enabled(level) else { return }
        let fields = logFields(slot)
        let node = connecting.flatMap { nodeName(slot, $0) }
        log.write(level) { line in
            fields.write(&line)
            if let node { line.field("node", node) }
            line.field("dst", endpoint)
            line.field("msg") { text in
                fields.appendRemote(&text)
                text.appendRaw(arrow)
                text.appendEndpoint(endpoint)
            }
        }
    }

    mutating func logClose(_ slot: Slot, _ closing: Closing) {
        let connection = slot.connection
        let reason = closing.reason
        // A scrape every few seconds would fill the log: the metrics endpoint's ends are debug.
        let scrape = reason == .finished && service(slot).pointee.kind == .metrics
        let level = scrape ? .debug : reason.logLevel
        guard log.enabled(level) else { return }
        let fields = logFields(slot)
        let elapsed = monotonicNanoseconds() - connection.pointee.openedAt
        // Only an unusual end builds text; a finished connection's line is written in place.
        var detail = ""
        if reason != .finished { detail += ": \(reason.message)" }
        if let error = closing.errno { detail += " (\(error))" }
        let (input, output) = (connection.pointee.inbound.bytes, connection.pointee.outbound.bytes)
        log.write(level) { line in
            fields.write(&line)
            line.field("duration", elapsed)
            line.field("inputBytes", input)
            line.field("outputBytes", output)
            line.field("reason", reason.name)
            line.field("msg") { text in
                fields.appendRemote(&text)
                text.appendRaw(" >< ")
                fields.appendLocal(&text)
                if !detail.isEmpty { text.appendEscaped(detail) }
            }
        }
    }
}

/// GOST's per-connection log fields, written straight into the line: no text is built for a
/// connection that ends normally.
struct ConnectionLogFields {
    let service: String
    let handler: String
    let client: IPEndpoint?
    let remote: IPEndpoint?
    /// The address the client reached, when the listener is a wildcard; else `listenText`.
    let localEndpoint: IPEndpoint?
    let listenText: String
    /// The halves of the connection's unique id (`sid`, and PROXY v2's UNIQUE_ID).
    let processStart: UInt64
    let id: UInt64

    var remoteText: String { remote?.description ?? "?" }

    func appendRemote(_ line: inout JSONLine) {
        if let remote { line.appendEndpoint(remote) } else { line.append(UInt8(ascii: "?")) }
    }

    func appendLocal(_ line: inout JSONLine) {
        if let localEndpoint { line.appendEndpoint(localEndpoint) } else { line.appendEscaped(listenText) }
    }

    /// `handler`: the protocol a proxy service's handshake speaks, instead of the service's own.
    func write(_ line: inout JSONLine, handler override: String? = nil) {
        line.field("kind", "handler")
        line.field("service", service)
        line.field("handler", override ?? handler)
        line.field("listener", "tcp")
        line.field("network", "tcp")
        if let client { line.field("client", client) }
        if let remote { line.field("remote", remote) }
        line.field("local") { text in appendLocal(&text) }
        line.field("sid") { text in
            text.appendHex(processStart)
            text.appendHex(id)
        }
    }
}
