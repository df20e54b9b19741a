/// The rules a domain name from a handshake must meet before anything resolves it.
///
/// Names reach the resolver and the logs, so only what DNS names are made of gets through: letters, digits,
/// hyphens, underscores (SRV-style and some internal names use them) and dots between non-empty labels of at
/// most 63 bytes, one trailing dot allowed, 255 bytes in all. A name whose last label is numeric (`1.2.3`,
/// `0x7f000001`) is refused: it is no IP literal by our strict rules, but `inet_aton`-style resolvers read it
/// as one, which would let a client reach an address that access rules keyed on literals never saw.
@_spi(Fuzzing) public enum HostName {
    @_spi(Fuzzing) public enum Problem: Error, Equatable, Sendable {
        case empty, tooLong, badByte, emptyLabel, labelTooLong, numeric, badIPv6

        @_spi(Fuzzing) public var reason: String {
            switch self {
            case .empty: return "empty host name"
            case .tooLong: return "host name longer than 255 bytes"
            case .badByte: return "host name with a byte other than letters, digits, '-', '_' and '.'"
            case .emptyLabel: return "host name with an empty label"
            case .labelTooLong: return "host name with a label longer than 63 bytes"
            case .numeric: return "numeric host name that is not an IP address"
            case .badIPv6: return "malformed IPv6 address"
            }
        }
    }

    @_spi(Fuzzing) public static let maximumLength = 255

    /// nil when `name` is a valid domain name. Problems are found in the order of the bytes, except that the
    /// length and the numeric last label are judged on the whole name.
    @_spi(Fuzzing) public static func check(_ name: UnsafeRawBufferPointer) -> Problem? {
        let count = name.count
        guard count > 0 else { return .empty }
        guard count <= maximumLength else { return .tooLong }
        var labelLength = 0
        for byte in name {
            if byte == UInt8(ascii: ".") {
                if labelLength == 0 { return .emptyLabel }
                labelLength = 0
            } else if isNameByte(byte) {
                labelLength += 1
                if labelLength > 63 { return .labelTooLong }
            } else {
                return .badByte
            }
        }
        // A label ending at the end is fine: labelLength 0 there is the one trailing dot.
        return lastLabelIsNumeric(name) ? .numeric : nil
    }

    /// The first byte no host field may hold (a name byte, '.', or ':' where an IPv6 literal may stand),
    /// so that a name still arriving is refused as soon as it holds a space, a control byte or NUL.
    static func firstBadByte(_ text: UnsafeRawBufferPointer, allowColon: Bool) -> Int? {
        for index in 0..<text.count {
            let byte = text[index]
            if isNameByte(byte) || byte == UInt8(ascii: ".") || (allowColon && byte == UInt8(ascii: ":")) { continue }
            return index
        }
        return nil
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// All decimal digits, or `0x` and hex digits: what numeric-address parsers would take.
    private static func lastLabelIsNumeric(_ name: UnsafeRawBufferPointer) -> Bool {
        var end = name.count
        if name[end - 1] == UInt8(ascii: ".") { end -= 1 }
        var start = end
        while start > 0, name[start - 1] != UInt8(ascii: ".") { start -= 1 }
        guard start < end else { return false }
        var digitsOnly = true
        for index in start..<end where !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(name[index]) {
            digitsOnly = false
        }
        if digitsOnly { return true }
        guard end - start >= 2, name[start] == UInt8(ascii: "0"),
            name[start + 1] | 0x20 == UInt8(ascii: "x")
        else { return false }
        for index in (start + 2)..<end {
            let byte = name[index] | 0x20
            if !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(name[index])
                && !(UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            {
                return false
            }
        }
        return true
    }
}
