/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) as RFC 4960 Appendix B and iSCSI define
/// it: initial value all ones, final complement. Table-driven, eight bytes per step
/// ("slicing-by-8").
public enum CRC32C {
    /// The checksum of `bytes`. Pass a previous result as `initial` to continue over more bytes:
    /// `checksum(b, initial: checksum(a))` equals the checksum of `a` followed by `b`.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        crc32cTables.withUnsafeBufferPointer { table in
            var index = 0
            let count = bytes.count
            while count - index >= 8 {
                let word =
                    UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                    ^ UInt64(crc)
                crc =
                    table[7 * 256 + Int(word & 0xFF)]
                    ^ table[6 * 256 + Int(word >> 8 & 0xFF)]
                    ^ table[5 * 256 + Int(word >> 16 & 0xFF)]
                    ^ table[4 * 256 + Int(word >> 24 & 0xFF)]
                    ^ table[3 * 256 + Int(word >> 32 & 0xFF)]
                    ^ table[2 * 256 + Int(word >> 40 & 0xFF)]
                    ^ table[1 * 256 + Int(word >> 48 & 0xFF)]
                    ^ table[Int(word >> 56)]
                index += 8
            }
            while index < count {
                crc = table[Int((crc ^ UInt32(bytes[index])) & 0xFF)] ^ (crc >> 8)
                index += 1
            }
        }
        return ~crc
    }

    /// The checksum of `bytes`; see `checksum(_:initial:)`.
    public static func checksum(_ bytes: some Sequence<UInt8>, initial: UInt32 = 0) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({
            checksum(UnsafeRawBufferPointer($0), initial: initial)
        }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { checksum($0, initial: initial) }
    }
}

/// Eight 256-entry tables: table 0 is the classic byte-at-a-time table; table k advances a byte's
/// contribution by k more bytes of zeros, which lets eight bytes be folded in one step.
private let crc32cTables: [UInt32] = {
    let polynomial: UInt32 = 0x82F6_3B78
    var tables = [UInt32](repeating: 0, count: 8 * 256)
    for byte in 0..<256 {
        var crc = UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1
        }
        tables[byte] = crc
    }
    for slice in 1..<8 {
        for byte in 0..<256 {
            let previous = tables[(slice - 1) * 256 + byte]
            tables[slice * 256 + byte] = (previous >> 8) ^ tables[Int(previous & 0xFF)]
        }
    }
    return tables
}()
