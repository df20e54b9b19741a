/// Parses the v1 text line from the bytes received so far, left to right, deciding `invalid` at
/// the first byte that no valid line could contain.
///
/// Accepted: `PROXY TCP4 <ipv4> <ipv4> <port> <port>\r\n`, the same with TCP6 and hex IPv6, and
/// `PROXY UNKNOWN` followed by CRLF or by a space and any bytes up to a CRLF (a lone CR or LF is
/// still invalid), all within 107 bytes including the CRLF.
enum V1HeaderParser {
    /// The longest line, CRLF included.
    static let maximumLength = 107

    /// `bytes` starts with "PROXY" (the detector matched it).
    static func parse(_ bytes: UnsafeRawBufferPointer) -> ProxyDetection {
        do {
            var cursor = V1LineCursor(bytes: bytes, index: ProxySignature.v1Length)
            guard let (header, consumed) = try parseLine(&cursor) else { return .needMore }
            return .header(header, consumed: consumed)
        } catch {
            return .invalid(error)
        }
    }

    /// The header and its length, or nil when more bytes are needed.
    private static func parseLine(
        _ cursor: inout V1LineCursor
    ) throws(ProxyProtocolError) -> (ProxyHeader, Int)? {
        switch try cursor.next() {
        case .content: throw .v1MissingSpace(offset: ProxySignature.v1Length)
        case .space: break
        case .carriageReturn: throw .v1MissingField(.protocolAndFamily)
        case nil: return nil
        }

        var protocolToken = V1ProtocolValidator()
        guard let (token, tokenEnd) = try readField(&cursor, .protocolAndFamily, &protocolToken) else { return nil }

        switch token {
        case .unknown:
            if tokenEnd == .space {
                // The rest of an UNKNOWN line is ignored up to its CRLF.
                while true {
                    guard let next = try cursor.next() else { return nil }
                    if next == .carriageReturn { break }
                }
            }
            guard let consumed = try cursor.finishLine() else { return nil }
            return (ProxyHeader.local(version: .v1), consumed)

        case .tcp4:
            guard tokenEnd == .space else { throw .v1MissingField(.sourceAddress) }
            var source = V1IPv4Validator(field: .sourceAddress)
            var destination = V1IPv4Validator(field: .destinationAddress)
            guard let from = try readAddressPair(&cursor, &source, &destination),
                let ports = try readPorts(&cursor)
            else { return nil }
            let addresses = ProxyAddresses.ipv4(
                source: from.0, destination: from.1, sourcePort: ports.header.0, destinationPort: ports.header.1)
            return (ProxyHeader(version: .v1, command: .proxy, transport: .stream, addresses: addresses), ports.consumed)

        case .tcp6:
            guard tokenEnd == .space else { throw .v1MissingField(.sourceAddress) }
            var source = V1IPv6Validator(field: .sourceAddress)
            var destination = V1IPv6Validator(field: .destinationAddress)
            guard let from = try readAddressPair(&cursor, &source, &destination),
                let ports = try readPorts(&cursor)
            else { return nil }
            let addresses = ProxyAddresses.ipv6(
                source: from.0, destination: from.1, sourcePort: ports.header.0, destinationPort: ports.header.1)
            return (ProxyHeader(version: .v1, command: .proxy, transport: .stream, addresses: addresses), ports.consumed)
        }
    }

    /// Source and destination addresses, each followed by a space.
    private static func readAddressPair<Validator: V1FieldValidator>(
        _ cursor: inout V1LineCursor,
        _ source: inout Validator,
        _ destination: inout Validator
    ) throws(ProxyProtocolError) -> (Validator.Value, Validator.Value)? {
        guard let (from, fromEnd) = try readField(&cursor, .sourceAddress, &source) else { return nil }
        guard fromEnd == .space else { throw .v1MissingField(.destinationAddress) }
        guard let (to, toEnd) = try readField(&cursor, .destinationAddress, &destination) else { return nil }
        guard toEnd == .space else { throw .v1MissingField(.sourcePort) }
        return (from, to)
    }

    /// Source port, a space, destination port, CRLF; returns the ports and the line length.
    private static func readPorts(
        _ cursor: inout V1LineCursor
    ) throws(ProxyProtocolError) -> (header: (UInt16, UInt16), consumed: Int)? {
        var sourceValidator = V1PortValidator(field: .sourcePort)
        guard let (source, sourceEnd) = try readField(&cursor, .sourcePort, &sourceValidator) else { return nil }
        guard sourceEnd == .space else { throw .v1MissingField(.destinationPort) }
        var destinationValidator = V1PortValidator(field: .destinationPort)
        guard let (destination, destinationEnd) = try readField(&cursor, .destinationPort, &destinationValidator)
        else { return nil }
        guard destinationEnd == .carriageReturn else { throw .v1TooManyFields }
        guard let consumed = try cursor.finishLine() else { return nil }
        return ((source, destination), consumed)
    }

    /// Feeds one field's bytes to `validator` up to its terminating space or CR.
    private static func readField<Validator: V1FieldValidator>(
        _ cursor: inout V1LineCursor,
        _ field: ProxyV1Field,
        _ validator: inout Validator
    ) throws(ProxyProtocolError) -> (Validator.Value, V1LineCursor.Terminator)? {
        let start = cursor.index
        while true {
            guard let next = try cursor.next() else { return nil }
            let terminator: V1LineCursor.Terminator
            switch next {
            case .content(let byte):
                try validator.feed(byte)
                continue
            case .space: terminator = .space
            case .carriageReturn: terminator = .carriageReturn
            }
            guard !validator.isEmpty else { throw .v1EmptyField(field) }
            let text = UnsafeRawBufferPointer(rebasing: cursor.bytes[start..<(cursor.index - 1)])
            return (try validator.finish(text: text), terminator)
        }
    }
}

/// Reads a v1 line byte by byte, enforcing the 107-byte limit and the CRLF rule for every byte.
struct V1LineCursor {
    let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    var index: Int

    enum Token: Equatable {
        case content(UInt8)
        case space
        /// A CR, which can only be the start of the CRLF.
        case carriageReturn
    }

    enum Terminator: Equatable {
        case space
        case carriageReturn
    }

    // With the CRLF at bytes 105-106, content may occupy bytes 0-104.
    private static let lastContentIndex = V1HeaderParser.maximumLength - 3
    private static let lastCarriageReturnIndex = V1HeaderParser.maximumLength - 2

    /// The next byte, or nil at the end of the input.
    mutating func next() throws(ProxyProtocolError) -> Token? {
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "\r"):
            guard index <= Self.lastCarriageReturnIndex else { throw .v1LineTooLong }
            index += 1
            return .carriageReturn
        case UInt8(ascii: "\n"):
            // An LF after a CR is read by `finishLine`; here it stands alone.
            throw .v1BadLineEnding(offset: index)
        default:
            guard index <= Self.lastContentIndex else { throw .v1LineTooLong }
            index += 1
            return byte == UInt8(ascii: " ") ? .space : .content(byte)
        }
    }

    /// Right after a CR: the LF that ends the line. Returns the line length, or nil for more bytes.
    mutating func finishLine() throws(ProxyProtocolError) -> Int? {
        guard index < bytes.count else { return nil }
        guard bytes[index] == UInt8(ascii: "\n") else { throw .v1BadLineEnding(offset: index - 1) }
        index += 1
        return index
    }
}
