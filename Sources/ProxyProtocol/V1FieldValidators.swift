/// Checks of the fields of a v1 line, one pass over a field's bytes each.
///
/// With `complete` false the bytes are the start of a field still arriving: they are rejected only
/// when no continuation could make the field valid, with the error the complete field would get,
/// so the detector's answer on a prefix never contradicts its answer on the whole line. The value
/// is returned only for a complete field.
enum V1FieldValidator {
    enum ProtocolToken { case tcp4, tcp6, unknown }

    /// TCP4, TCP6 or UNKNOWN, compared byte by byte so a wrong prefix fails at once.
    static func protocolToken(
        _ text: UnsafeRawBufferPointer,
        complete: Bool
    ) throws(ProxyProtocolError) -> ProtocolToken? {
        let tcp4: StaticString = "TCP4"
        let tcp6: StaticString = "TCP6"
        let unknown: StaticString = "UNKNOWN"
        if matches(text, unknown) {
            guard complete else { return nil }
            if text.count == unknown.utf8CodeUnitCount { return .unknown }
        } else if matches(text, tcp4) || matches(text, tcp6) {
            guard complete else { return nil }
            if text.count == tcp4.utf8CodeUnitCount { return text[3] == UInt8(ascii: "4") ? .tcp4 : .tcp6 }
        }
        throw .v1BadProtocol
    }

    /// True when `text` is a prefix of `token`.
    private static func matches(_ text: UnsafeRawBufferPointer, _ token: StaticString) -> Bool {
        guard text.count <= token.utf8CodeUnitCount else { return false }
        for index in 0..<text.count where text[index] != token.utf8Start[index] {
            return false
        }
        return true
    }

    /// A dotted quad: four decimal numbers 0-255, no leading zeros.
    static func ipv4(
        _ text: UnsafeRawBufferPointer,
        field: ProxyV1Field,
        complete: Bool
    ) throws(ProxyProtocolError) -> IPv4Address? {
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A second digit after a leading "0" is a leading zero.
                guard digits == 0 || octet != 0 else { throw .v1BadAddress(field) }
                octet = octet &* 10 &+ UInt32(byte &- UInt8(ascii: "0"))
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
        guard complete else { return nil }
        guard dots == 3, digits > 0 else { throw .v1BadAddress(field) }
        return IPv4Address(value << 8 | octet)
    }

    /// IPv6 in hex groups, as the v1 spec writes it: one to four hex digits per group, at most one
    /// "::" standing for at least one zero group, 128 bits in all; no embedded dotted quad, zone or
    /// brackets. One pass checks the shape and builds the address.
    static func ipv6(
        _ text: UnsafeRawBufferPointer,
        field: ProxyV1Field,
        complete: Bool
    ) throws(ProxyProtocolError) -> IPv6Address? {
        // No length check up front: the limits on digits and groups below refuse any text longer than
        // 39 bytes at the byte that breaks them, the same byte a prefix of the field is refused at.
        // Groups before and after the "::", most significant first.
        var head: UInt128 = 0
        var tail: UInt128 = 0
        var groups = 0
        var headGroups = 0
        var group: UInt128 = 0
        var groupDigits = 0
        var colonsInRow = 0
        var hasGap = false
        var sawColon = false
        /// Moves the group just read into the half of the address it belongs to.
        func appendGroup() {
            if hasGap {
                tail = tail << 16 | group
            } else {
                head = head << 16 | group
                headGroups += 1
            }
            groups += 1
        }
        for index in 0..<text.count {
            let byte = text[index]
            if byte == UInt8(ascii: ":") {
                sawColon = true
                switch colonsInRow {
                case 0:
                    if groupDigits > 0 {
                        appendGroup()
                        group = 0
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
                // Eight groups are all there is, and "::" must still stand for one.
                guard groups + (hasGap ? 1 : 0) <= 8, !(groups == 8 && colonsInRow == 1) else {
                    throw .v1BadAddress(field)
                }
                continue
            }
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte &- UInt8(ascii: "A") &+ 10
            case UInt8(ascii: "."):
                // A dotted quad: IPv4 text under TCP6, or the mixed form the v1 spec does not allow.
                throw sawColon ? .v1BadAddress(field) : .v1AddressFamilyMismatch(field)
            default:
                throw .v1BadAddress(field)
            }
            // A single colon cannot begin an address.
            guard !(index == 1 && colonsInRow == 1) else { throw .v1BadAddress(field) }
            colonsInRow = 0
            group = group << 4 | UInt128(digit)
            groupDigits += 1
            guard groupDigits <= 4, groups + 1 + (hasGap ? 1 : 0) <= 8 else { throw .v1BadAddress(field) }
        }
        guard complete else { return nil }
        // Ends in a single colon (or is one).
        guard colonsInRow != 1 else { throw .v1BadAddress(field) }
        if groupDigits > 0 { appendGroup() }
        let value: UInt128
        if hasGap {
            guard groups <= 7 else { throw .v1BadAddress(field) }
            value = headGroups == 0 ? tail : head << UInt128(16 * (8 - headGroups)) | tail
        } else {
            guard groups == 8 else { throw .v1BadAddress(field) }
            value = head
        }
        return IPv6Address(high: UInt64(truncatingIfNeeded: value >> 64), low: UInt64(truncatingIfNeeded: value))
    }

    /// A port: decimal 0-65535, no sign, no leading zero (a lone "0" is fine).
    static func port(
        _ text: UnsafeRawBufferPointer,
        field: ProxyV1Field,
        complete: Bool
    ) throws(ProxyProtocolError) -> UInt16? {
        var value = 0
        for (index, byte) in text.enumerated() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw .v1BadPort(field) }
            guard index == 0 || value != 0 else { throw .v1BadPort(field) }  // leading zero
            value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
            guard value <= Int(UInt16.max) else { throw .v1PortOutOfRange(field, value: value) }
        }
        guard complete else { return nil }
        return UInt16(value)
    }
}
