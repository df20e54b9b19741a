/// An IPv4 address, stored as a host-order integer (`1.2.3.4` is `0x0102_0304`).
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var value: UInt32

    @inlinable
    public init(_ value: UInt32) {
        self.value = value
    }

    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self.value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    public static let any = IPv4Address(0)
    public static let loopback = IPv4Address(127, 0, 0, 1)

    /// Strict dotted-quad text as the PROXY spec writes it: exactly four decimal numbers in
    /// 0...255, no leading zeros, no signs, no spaces.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard let parsed = utf8.withUnsafeBytes({ IPv4Address(textBytes: $0) })
        else { return nil }
        self = parsed
    }

    /// Same rules as `init?(_:)`, over raw ASCII bytes (no allocation).
    public init?(textBytes bytes: UnsafeRawBufferPointer) {
        var result: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        var firstDigitIsZero = false
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 0 {
                    firstDigitIsZero = byte == UInt8(ascii: "0")
                } else if firstDigitIsZero {
                    return nil  // leading zero
                }
                digits += 1
                octet = octet * 10 + UInt32(byte - UInt8(ascii: "0"))
                if digits > 3 || octet > 255 { return nil }
            case UInt8(ascii: "."):
                if digits == 0 || dots == 3 { return nil }
                result = result << 8 | octet
                octet = 0
                digits = 0
                dots += 1
            default:
                return nil
            }
        }
        guard dots == 3, digits > 0 else { return nil }
        self.value = result << 8 | octet
    }

    /// The four octets in network order.
    @inlinable
    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (
            UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)
        )
    }

    public var isLoopback: Bool { value >> 24 == 127 }
    public var isUnspecified: Bool { value == 0 }

    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }

    /// Writes the dotted quad into `out` at `offset`; returns the new offset. `out` needs 15 bytes.
    @inlinable
    public func writeText(into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        var position = offset
        for shift in stride(from: 24, through: 0, by: -8) {
            position = writeDecimal(UInt32(truncatingIfNeeded: value >> UInt32(shift)) & 0xFF, into: out, at: position)
            if shift != 0 {
                out[position] = UInt8(ascii: ".")
                position += 1
            }
        }
        return position
    }

    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool { lhs.value < rhs.value }
}

/// Writes `value` in decimal without leading zeros; returns the offset after the last digit.
@inlinable
func writeDecimal(_ value: UInt32, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
    var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    var count = 0
    var remaining = value
    withUnsafeMutableBytes(of: &digits) { scratch in
        repeat {
            scratch[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
            count += 1
        } while remaining != 0
        for index in 0..<count {
            out[offset + index] = scratch[count - 1 - index]
        }
    }
    return offset + count
}
