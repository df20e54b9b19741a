/// Byte-at-a-time checks for the fields of a v1 line. Each rejects a byte as soon as no
/// continuation could make the field valid, with the same error the complete field would get, so
/// the detector's answer on a prefix never contradicts its answer on the whole line.
protocol V1FieldValidator {
    associatedtype Value
    var isEmpty: Bool { get }
    mutating func feed(_ byte: UInt8) throws(ProxyProtocolError)
    /// The field's value once its terminating space or CR arrived; `text` is the whole field.
    func finish(text: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> Value
}

/// The protocol token: TCP4, TCP6 or UNKNOWN.
struct V1ProtocolValidator: V1FieldValidator {
    enum Token { case tcp4, tcp6, unknown }

    private var length = 0
    // Candidates still matching, as bits: 1 TCP4, 2 TCP6, 4 UNKNOWN.
    private var candidates: UInt8 = 0b111

    var isEmpty: Bool { length == 0 }

    mutating func feed(_ byte: UInt8) throws(ProxyProtocolError) {
        if !Self.matches("TCP4", byte, at: length) { candidates &= ~1 }
        if !Self.matches("TCP6", byte, at: length) { candidates &= ~2 }
        if !Self.matches("UNKNOWN", byte, at: length) { candidates &= ~4 }
        length += 1
        guard candidates != 0 else { throw .v1BadProtocol }
    }

    func finish(text: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> Token {
        if length == 4 && candidates & 1 != 0 { return .tcp4 }
        if length == 4 && candidates & 2 != 0 { return .tcp6 }
        if length == 7 && candidates & 4 != 0 { return .unknown }
        throw .v1BadProtocol
    }

    private static func matches(_ token: StaticString, _ byte: UInt8, at index: Int) -> Bool {
        index < token.utf8CodeUnitCount && token.utf8Start[index] == byte
    }
}

/// A dotted quad: four decimal numbers 0-255, no leading zeros. The address is built as the
/// bytes arrive.
struct V1IPv4Validator: V1FieldValidator {
    let field: ProxyV1Field
    private var value: UInt32 = 0
    private var octet: UInt32 = 0
    private var digits = 0
    private var dots = 0
    private var octetStartsWithZero = false

    init(field: ProxyV1Field) {
        self.field = field
    }

    var isEmpty: Bool { digits == 0 && dots == 0 }

    mutating func feed(_ byte: UInt8) throws(ProxyProtocolError) {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            if digits == 0 {
                octetStartsWithZero = byte == UInt8(ascii: "0")
            } else if octetStartsWithZero {
                throw .v1BadAddress(field)
            }
            octet = octet * 10 + UInt32(byte &- UInt8(ascii: "0"))
            digits += 1
            guard octet <= 255 else { throw .v1BadAddress(field) }
        case UInt8(ascii: "."):
            guard digits > 0, dots < 3 else { throw .v1BadAddress(field) }
            value = value << 8 | octet
            octet = 0
            digits = 0
            dots += 1
        case UInt8(ascii: ":"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"):
            // Looks like IPv6 text under TCP4.
            throw .v1AddressFamilyMismatch(field)
        default:
            throw .v1BadAddress(field)
        }
    }

    func finish(text: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> IPv4Address {
        guard dots == 3, digits > 0 else { throw .v1BadAddress(field) }
        return IPv4Address(value << 8 | octet)
    }
}

/// IPv6 in hex groups, as the v1 spec writes it (no embedded dotted quad, no zone, no brackets).
/// Feeding checks the characters and the shape (group length, group count, at most one "::");
/// `finish` runs the full parser over the field.
struct V1IPv6Validator: V1FieldValidator {
    let field: ProxyV1Field
    private var length = 0
    private var groups = 0
    private var groupDigits = 0
    private var colonsInRow = 0
    private var hasGap = false
    private var sawColon = false

    init(field: ProxyV1Field) {
        self.field = field
    }

    var isEmpty: Bool { length == 0 }

    mutating func feed(_ byte: UInt8) throws(ProxyProtocolError) {
        length += 1
        guard length <= 39 else { throw .v1BadAddress(field) }
        switch byte {
        case UInt8(ascii: ":"):
            sawColon = true
            switch colonsInRow {
            case 0:
                if groupDigits > 0 {
                    groups += 1
                    groupDigits = 0
                }
                colonsInRow = 1
            case 1:
                guard !hasGap else { throw .v1BadAddress(field) }
                hasGap = true
                colonsInRow = 2
            default:
                throw .v1BadAddress(field)  // ":::"
            }
            // Eight groups are all there is; "::" must still stand for one.
            guard groups + (hasGap ? 1 : 0) <= 8, !(groups == 8 && colonsInRow == 1) else {
                throw .v1BadAddress(field)
            }
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            // A single leading colon cannot begin an address.
            guard !(colonsInRow == 1 && length == 2) else { throw .v1BadAddress(field) }
            colonsInRow = 0
            groupDigits += 1
            guard groupDigits <= 4, groups + 1 + (hasGap ? 1 : 0) <= 8 else { throw .v1BadAddress(field) }
        case UInt8(ascii: "."):
            // A dotted quad: IPv4 text under TCP6, or the mixed form the v1 spec does not allow.
            throw sawColon ? .v1BadAddress(field) : .v1AddressFamilyMismatch(field)
        default:
            throw .v1BadAddress(field)
        }
    }

    func finish(text: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> IPv6Address {
        guard let address = IPv6Address(textBytes: text, allowEmbeddedIPv4: false) else {
            throw .v1BadAddress(field)
        }
        return address
    }
}

/// A port: decimal 0-65535, no sign, no leading zero (a lone "0" is fine).
struct V1PortValidator: V1FieldValidator {
    let field: ProxyV1Field
    private var value = 0
    private var digits = 0

    init(field: ProxyV1Field) {
        self.field = field
    }

    var isEmpty: Bool { digits == 0 }

    mutating func feed(_ byte: UInt8) throws(ProxyProtocolError) {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .v1BadPort(field) }
        guard !(digits == 1 && value == 0) else { throw .v1BadPort(field) }  // leading zero
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
        digits += 1
        guard value <= Int(UInt16.max) else { throw .v1PortOutOfRange(field, value: value) }
    }

    func finish(text: UnsafeRawBufferPointer) throws(ProxyProtocolError) -> UInt16 {
        UInt16(value)
    }
}
