/// An IPv6 address as two host-order halves: `high` holds bytes 0-7 of the network-order
/// address, `low` bytes 8-15.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// `::ffff:a.b.c.d`, the form a dual-stack socket reports for an IPv4 peer.
    @inlinable
    public init(v4Mapped address: IPv4Address) {
        self.high = 0
        self.low = 0x0000_FFFF_0000_0000 | UInt64(address.value)
    }

    public static let any = IPv6Address(high: 0, low: 0)
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// The IPv4 address inside a v4-mapped address, else nil.
    @inlinable
    public var v4Mapped: IPv4Address? {
        guard high == 0, low >> 32 == 0xFFFF else { return nil }
        return IPv4Address(UInt32(truncatingIfNeeded: low))
    }

    public var isLoopback: Bool { self == .loopback }
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// The eight 16-bit groups, most significant first.
    @inlinable
    public func group(_ index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half >> UInt64(48 - 16 * (index & 3)))
    }

    /// Byte `index` (0-15) of the network-order address.
    @inlinable
    public func byte(_ index: Int) -> UInt8 {
        let half = index < 8 ? high : low
        return UInt8(truncatingIfNeeded: half >> UInt64(56 - 8 * (index & 7)))
    }

    /// Strict IPv6 text: groups of one to four hex digits separated by single colons, at most one
    /// `::` standing for at least one zero group, exactly 128 bits. No brackets, no zone id
    /// (`%eth0`), no prefix length. A trailing dotted quad (`::ffff:1.2.3.4`) is accepted only when
    /// `allowEmbeddedIPv4` is set: the PROXY spec defines IPv6 text as hex groups, but humans
    /// writing configuration use the mixed form.
    public init?(_ text: some StringProtocol, allowEmbeddedIPv4: Bool = true) {
        let utf8 = Array(text.utf8)
        guard let parsed = utf8.withUnsafeBytes({ IPv6Address(textBytes: $0, allowEmbeddedIPv4: allowEmbeddedIPv4) })
        else { return nil }
        self = parsed
    }

    /// Same rules as `init?(_:allowEmbeddedIPv4:)`, over raw ASCII bytes (no allocation). Note the
    /// different default: wire text (PROXY v1) has no dotted quad, configuration text may.
    public init?(textBytes bytes: UnsafeRawBufferPointer, allowEmbeddedIPv4: Bool = false) {
        let count = bytes.count
        guard count >= 2, count <= 45 else { return nil }
        var groups: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
        var parsedGroups = 0
        var gapIndex = -1  // group index where "::" stands
        var index = 0
        let parsedOK: Bool = withUnsafeMutableBytes(of: &groups) { raw in
            let groupSlots = raw.assumingMemoryBound(to: UInt16.self)
            if bytes[0] == UInt8(ascii: ":") {
                // Only "::" may begin an address.
                guard bytes[1] == UInt8(ascii: ":") else { return false }
                gapIndex = 0
                index = 2
                if index == count { return true }
            }
            while index < count {
                // One group: hex digits, or (last) a dotted quad.
                let start = index
                var value: UInt32 = 0
                while index < count, let digit = hexValue(bytes[index]) {
                    value = value << 4 | UInt32(digit)
                    index += 1
                    if index - start > 4 { break }
                }
                let length = index - start
                if index < count, bytes[index] == UInt8(ascii: ".") {
                    // Embedded IPv4 takes the last 32 bits.
                    guard allowEmbeddedIPv4, parsedGroups <= 6,
                        let v4 = IPv4Address(textBytes: UnsafeRawBufferPointer(rebasing: bytes[start..<count]))
                    else { return false }
                    groupSlots[parsedGroups] = UInt16(truncatingIfNeeded: v4.value >> 16)
                    groupSlots[parsedGroups + 1] = UInt16(truncatingIfNeeded: v4.value)
                    parsedGroups += 2
                    index = count
                    break
                }
                guard length >= 1, length <= 4, parsedGroups < 8 else { return false }
                groupSlots[parsedGroups] = UInt16(truncatingIfNeeded: value)
                parsedGroups += 1
                if index == count { break }
                guard bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                if index < count, bytes[index] == UInt8(ascii: ":") {
                    guard gapIndex < 0 else { return false }  // a second "::"
                    gapIndex = parsedGroups
                    index += 1
                    if index == count { break }
                } else if index == count {
                    return false  // a single trailing colon
                }
            }
            if gapIndex >= 0 {
                // "::" stands for at least one zero group.
                guard parsedGroups <= 7 else { return false }
                let shift = 8 - parsedGroups
                var slot = parsedGroups - 1
                while slot >= gapIndex {
                    groupSlots[slot + shift] = groupSlots[slot]
                    groupSlots[slot] = 0
                    slot -= 1
                }
                return true
            }
            return parsedGroups == 8
        }
        guard parsedOK else { return nil }
        self.high = UInt64(groups.0) << 48 | UInt64(groups.1) << 32 | UInt64(groups.2) << 16 | UInt64(groups.3)
        self.low = UInt64(groups.4) << 48 | UInt64(groups.5) << 32 | UInt64(groups.6) << 16 | UInt64(groups.7)
    }

    /// RFC 5952 text, with the mixed form for v4-mapped addresses (`::ffff:10.0.0.1`), as people
    /// read it in logs.
    public var description: String {
        if let v4 = v4Mapped { return "::ffff:" + v4.description }
        return withUnsafeTemporaryAllocation(byteCount: 39, alignment: 1) { scratch in
            let length = writeText(into: scratch, at: 0)
            return String(decoding: UnsafeRawBufferPointer(rebasing: scratch[0..<length]), as: UTF8.self)
        }
    }

    /// Writes RFC 5952 text using hex groups only (the form the PROXY v1 spec defines) into `out`
    /// at `offset`; returns the new offset. `out` needs 39 bytes.
    @inlinable
    public func writeText(into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        // The longest run of two or more zero groups becomes "::" (the first one on a tie).
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for index in 0..<8 {
            if group(index) == 0 {
                if runStart < 0 { runStart = index }
                let runLength = index - runStart + 1
                if runLength > bestLength {
                    bestStart = runStart
                    bestLength = runLength
                }
            } else {
                runStart = -1
            }
        }
        if bestLength < 2 {
            bestStart = -1
            bestLength = 0
        }
        var position = offset
        var index = 0
        while index < 8 {
            if index == bestStart {
                out[position] = UInt8(ascii: ":")
                out[position + 1] = UInt8(ascii: ":")
                position += 2
                index += bestLength
                continue
            }
            // A colon separates groups, except right after the "::" that already ends in one.
            if index > 0 && index != bestStart + bestLength {
                out[position] = UInt8(ascii: ":")
                position += 1
            }
            position = writeHex(group(index), into: out, at: position)
            index += 1
        }
        return position
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }
}

@inlinable
func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Lowercase hex without leading zeros; returns the offset after the last digit.
@inlinable
func writeHex(_ value: UInt16, into out: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
    let hexDigits: StaticString = "0123456789abcdef"
    var position = offset
    var started = false
    for shift in stride(from: 12, through: 0, by: -4) {
        let nibble = Int((value >> UInt16(shift)) & 0xF)
        if nibble != 0 || started || shift == 0 {
            started = true
            out[position] = hexDigits.utf8Start[nibble]
            position += 1
        }
    }
    return position
}
