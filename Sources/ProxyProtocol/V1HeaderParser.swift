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
    @inline(__always)
    static func parse(_ bytes: UnsafeRawBufferPointer) -> ProxyDetection {
        do {
            var scanner = V1LineScanner(bytes: bytes, index: ProxySignature.v1Length)
            return try parseLine(&scanner)
        } catch {
            return .invalid(error)
        }
    }

    @inline(__always)
    private static func parseLine(_ scanner: inout V1LineScanner) throws(ProxyProtocolError) -> ProxyDetection {
        // Exactly one space after "PROXY".
        switch scanner.peek() {
        case nil: return .needMore
        case UInt8(ascii: " "): scanner.index += 1
        case UInt8(ascii: "\r"): throw .v1MissingField(.protocolAndFamily)
        case UInt8(ascii: "\n"): throw .v1BadLineEnding(offset: scanner.index)
        default: throw .v1MissingSpace(offset: scanner.index)
        }

        let tokenField = scanner.scanField()
        guard let token = try check(tokenField, .protocolAndFamily, V1FieldValidator.protocolToken) else {
            return .needMore
        }
        switch token {
        case .unknown:
            // The rest of an UNKNOWN line is ignored up to its CRLF.
            var stop = tokenField.stop
            while stop == .space {
                let rest = scanner.scanField()
                if case .lineError(let error) = rest.stop { throw error }
                stop = rest.stop
            }
            guard stop == .carriageReturn, let consumed = try scanner.finishLine() else { return .needMore }
            return .header(.local(version: .v1), consumed: consumed)
        case .tcp4:
            guard tokenField.stop == .space else { throw .v1MissingField(.sourceAddress) }
            return try parseFields(&scanner, V1FieldValidator.ipv4, ProxyAddresses.ipv4)
        case .tcp6:
            guard tokenField.stop == .space else { throw .v1MissingField(.sourceAddress) }
            return try parseFields(&scanner, V1FieldValidator.ipv6, ProxyAddresses.ipv6)
        }
    }

    /// The four fields after the protocol token, then the CRLF.
    @inline(__always)
    private static func parseFields<Address>(
        _ scanner: inout V1LineScanner,
        _ validateAddress: (UnsafeRawBufferPointer, ProxyV1Field, Bool) throws(ProxyProtocolError) -> Address?,
        _ makeAddresses: (Address, Address, UInt16, UInt16) -> ProxyAddresses
    ) throws(ProxyProtocolError) -> ProxyDetection {
        let sourceField = scanner.scanField()
        guard let source = try check(sourceField, .sourceAddress, validateAddress) else { return .needMore }
        guard sourceField.stop == .space else { throw .v1MissingField(.destinationAddress) }

        let destinationField = scanner.scanField()
        guard let destination = try check(destinationField, .destinationAddress, validateAddress) else {
            return .needMore
        }
        guard destinationField.stop == .space else { throw .v1MissingField(.sourcePort) }

        let sourcePortField = scanner.scanField()
        guard let sourcePort = try check(sourcePortField, .sourcePort, V1FieldValidator.port) else { return .needMore }
        guard sourcePortField.stop == .space else { throw .v1MissingField(.destinationPort) }

        let destinationPortField = scanner.scanField()
        guard let destinationPort = try check(destinationPortField, .destinationPort, V1FieldValidator.port) else {
            return .needMore
        }
        guard destinationPortField.stop == .carriageReturn else { throw .v1TooManyFields }
        guard let consumed = try scanner.finishLine() else { return .needMore }

        let addresses = makeAddresses(source, destination, sourcePort, destinationPort)
        return .header(
            ProxyHeader(version: .v1, command: .proxy, transport: .stream, addresses: addresses), consumed: consumed)
    }

    /// Validates a scanned field. Returns nil when the field is still arriving (and so far
    /// viable). A line error found while scanning is reported only when the field's own bytes,
    /// which came first, are fine.
    @inline(__always)
    private static func check<Value>(
        _ scanned: V1LineScanner.Field,
        _ field: ProxyV1Field,
        _ validate: (UnsafeRawBufferPointer, ProxyV1Field, Bool) throws(ProxyProtocolError) -> Value?
    ) throws(ProxyProtocolError) -> Value? {
        switch scanned.stop {
        case .space, .carriageReturn:
            guard !scanned.text.isEmpty else { throw .v1EmptyField(field) }
            return try validate(scanned.text, field, true)
        case .endOfInput:
            _ = try validate(scanned.text, field, false)
            return nil
        case .lineError(let error):
            _ = try validate(scanned.text, field, false)
            throw error
        }
    }

    @inline(__always)
    private static func check(
        _ scanned: V1LineScanner.Field,
        _ field: ProxyV1Field,
        _ validate: (UnsafeRawBufferPointer, Bool) throws(ProxyProtocolError) -> V1FieldValidator.ProtocolToken?
    ) throws(ProxyProtocolError) -> V1FieldValidator.ProtocolToken? {
        try check(scanned, field) { (text, _, complete) throws(ProxyProtocolError) in try validate(text, complete) }
    }
}

/// Splits a v1 line into fields, enforcing the 107-byte limit and the CRLF rule for every byte.
struct V1LineScanner {
    let bytes: UnsafeRawBufferPointer
    /// The next byte to read.
    var index: Int

    enum Stop: Equatable {
        case space
        /// A CR, which can only be the start of the CRLF.
        case carriageReturn
        case endOfInput
        /// A lone LF, or a byte past the 107-byte limit.
        case lineError(ProxyProtocolError)
    }

    struct Field {
        /// The field's bytes, without the byte that ended it.
        var text: UnsafeRawBufferPointer
        var stop: Stop
    }

    // With the CRLF at bytes 105-106, content may occupy bytes 0-104.
    private static let lastContentIndex = V1HeaderParser.maximumLength - 3

    func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    /// Reads to the next space or CR, consuming it.
    mutating func scanField() -> Field {
        let start = index
        let contentEnd = min(bytes.count, Self.lastContentIndex + 1)
        while index < contentEnd {
            let byte = bytes[index]
            // Most bytes are field content; only space, CR and LF sit at or below 0x20.
            if byte > UInt8(ascii: " ") {
                index += 1
                continue
            }
            switch byte {
            case UInt8(ascii: " "):
                index += 1
                return Field(text: text(from: start, to: index - 1), stop: .space)
            case UInt8(ascii: "\r"):
                index += 1
                return Field(text: text(from: start, to: index - 1), stop: .carriageReturn)
            case UInt8(ascii: "\n"):
                // An LF after a CR is read by `finishLine`; here it stands alone.
                return Field(text: text(from: start, to: index), stop: .lineError(.v1BadLineEnding(offset: index)))
            default:
                index += 1
            }
        }
        let field = text(from: start, to: index)
        guard index < bytes.count else { return Field(text: field, stop: .endOfInput) }
        // Byte 105: only the CR of the CRLF still fits.
        switch bytes[index] {
        case UInt8(ascii: "\r"):
            index += 1
            return Field(text: field, stop: .carriageReturn)
        case UInt8(ascii: "\n"):
            return Field(text: field, stop: .lineError(.v1BadLineEnding(offset: index)))
        default:
            return Field(text: field, stop: .lineError(.v1LineTooLong))
        }
    }

    /// Right after a CR: the LF that ends the line. Returns the line length, or nil for more bytes.
    mutating func finishLine() throws(ProxyProtocolError) -> Int? {
        guard index < bytes.count else { return nil }
        guard bytes[index] == UInt8(ascii: "\n") else { throw .v1BadLineEnding(offset: index - 1) }
        index += 1
        return index
    }

    private func text(from start: Int, to end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
