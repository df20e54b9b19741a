import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("CRC32C")
struct CRC32CTests {
    // RFC 3720 (iSCSI) B.4 vectors and the common check value.
    static let knownVectors: [([UInt8], UInt32)] = [
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
        (Array("123456789".utf8), 0xE306_9283),
        ([], 0),
        ([0x61], 0xC1D0_4330),
    ]

    @Test("known vectors", arguments: knownVectors)
    func vectors(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
        #expect(bytes.withUnsafeBytes { CRC32C.checksum($0) } == expected)
    }

    @Test("the iSCSI SCSI read command PDU")
    func iscsiPDU() {
        let pdu: [UInt8] = [
            0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ]
        #expect(CRC32C.checksum(pdu) == 0xD9963A56)
    }

    @Test("continuing with initial equals one pass, at every split and alignment")
    func chaining() {
        var rng = SplitMix64(seed: 32)
        let bytes = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let whole = CRC32C.checksum(bytes)
        for split in 0...bytes.count {
            let first = CRC32C.checksum(bytes[0..<split])
            #expect(CRC32C.checksum(bytes[split...], initial: first) == whole)
        }
        // The 8-byte loop and the byte loop agree whatever the starting alignment.
        for offset in 0..<9 {
            let slice = Array(bytes[offset...])
            let bytewise = slice.reduce(UInt32(0)) { crc, byte in CRC32C.checksum([byte], initial: crc) }
            #expect(CRC32C.checksum(slice) == bytewise)
        }
    }
}
