/// The fixed bytes that open a PROXY header, packed into integers so that matching needs no table.
@usableFromInline
enum ProxySignature {
    /// "PROXY", the v1 prefix.
    @usableFromInline static let v1Length = 5
    /// `\r\n\r\n\0\r\nQUIT\n`, the v2 prefix.
    @usableFromInline static let v2Length = 12

    // Little-endian packings: byte 0 is the least significant byte.
    @usableFromInline static let v1Packed: UInt64 = 0x59_58_4F_52_50
    @usableFromInline static let v2PackedLow: UInt64 = 0x51_0A_0D_00_0A_0D_0A_0D
    @usableFromInline static let v2PackedHigh: UInt32 = 0x0A_54_49_55

    @inlinable
    static func v1Byte(_ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: v1Packed >> UInt64(8 * index))
    }

    @inlinable
    static func v2Byte(_ index: Int) -> UInt8 {
        index < 8
            ? UInt8(truncatingIfNeeded: v2PackedLow >> UInt64(8 * index))
            : UInt8(truncatingIfNeeded: v2PackedHigh >> UInt32(8 * (index - 8)))
    }

    /// True when `bytes` (at most 5 of them) are the start of "PROXY".
    @inlinable
    static func isV1Prefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for index in 0..<min(bytes.count, v1Length) where bytes[index] != v1Byte(index) {
            return false
        }
        return true
    }

    /// True when `bytes` (at most 12 of them) are the start of the v2 signature.
    @inlinable
    static func isV2Prefix(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for index in 0..<min(bytes.count, v2Length) where bytes[index] != v2Byte(index) {
            return false
        }
        return true
    }

    /// True when `bytes` (at least 5 of them) begin with "PROXY".
    @inlinable
    static func startsWithV1(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let word = UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))
        return word == UInt32(truncatingIfNeeded: v1Packed) && bytes[4] == v1Byte(4)
    }

    /// True when `bytes` (at least 12 of them) begin with the v2 signature.
    @inlinable
    static func startsWithV2(_ bytes: UnsafeRawBufferPointer) -> Bool {
        UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self)) == v2PackedLow
            && UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) == v2PackedHigh
    }

    /// Writes the 12-byte v2 signature at the start of `buffer` (which holds at least 12 bytes).
    @inlinable
    static func writeV2(into buffer: UnsafeMutableRawBufferPointer) {
        buffer.storeBytes(of: v2PackedLow.littleEndian, toByteOffset: 0, as: UInt64.self)
        buffer.storeBytes(of: v2PackedHigh.littleEndian, toByteOffset: 8, as: UInt32.self)
    }
}

/// Sizes and offsets of the v2 binary format.
@usableFromInline
enum V2Layout {
    /// Signature (12), version/command (1), family/transport (1), length (2).
    @usableFromInline static let fixedLength = 16
    @usableFromInline static let ipv4AddressLength = 12
    @usableFromInline static let ipv6AddressLength = 36
    @usableFromInline static let unixAddressLength = 216
    /// Type (1) and length (2) before each TLV value.
    @usableFromInline static let tlvHeaderLength = 3
    /// The largest header the 16-bit length field can describe.
    @usableFromInline static let maximumLength = fixedLength + Int(UInt16.max)
}

extension UnsafeRawBufferPointer {
    /// The big-endian integer at `offset` (no alignment needed; the caller checked the bounds).
    @inlinable
    func loadBigEndian<T: FixedWidthInteger>(at offset: Int, as type: T.Type) -> T {
        T(bigEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores `value` big-endian at `offset` (the caller checked the bounds).
    @inlinable
    func storeBigEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: T.self)
    }
}
