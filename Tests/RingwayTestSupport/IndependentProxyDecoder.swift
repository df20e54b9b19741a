import Glibc

/// A PROXY header decoder for tests that shares no code with Ringway's codec: what the relay
/// sends is checked by this, so an encoder bug and the matching decoder bug cannot cancel out.
/// It follows the spec's byte layout directly, formats addresses with inet_ntop and checks
/// CRC32C bit by bit. It is deliberately small: well-formed v1 TCP4/TCP6/UNKNOWN lines and v2
/// LOCAL/PROXY headers with IPv4 or IPv6 addresses.
public struct DecodedProxyHeader: Equatable, Sendable {
    public var version: Int
    /// "PROXY" or "LOCAL" (v2), "TCP4"/"TCP6"/"UNKNOWN" (v1).
    public var command: String
    /// `a.b.c.d:port` or `[v6]:port`; nil for LOCAL/UNKNOWN.
    public var source: String?
    public var destination: String?
    /// TLVs in wire order.
    public var tlvs: [TLV]
    /// Bytes the header takes.
    public var length: Int
    /// v2 with a CRC32C TLV: whether the checksum is right (nil without one).
    public var checksumValid: Bool?

    public struct TLV: Equatable, Sendable {
        public var type: UInt8
        public var value: [UInt8]
    }

    public func tlv(_ type: UInt8) -> [UInt8]? { tlvs.first { $0.type == type }?.value }
}

public enum IndependentProxyDecoder {
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// The header at the start of `bytes`, or nil when there is none (or it is malformed).
    public static func decode(_ bytes: [UInt8]) -> DecodedProxyHeader? {
        if bytes.count >= 16 && Array(bytes[0..<12]) == v2Signature { return decodeV2(bytes) }
        if bytes.starts(with: Array("PROXY ".utf8)) { return decodeV1(bytes) }
        return nil
    }

    private static func decodeV1(_ bytes: [UInt8]) -> DecodedProxyHeader? {
        guard let end = (0..<min(bytes.count, 107)).first(where: { bytes[$0] == 0x0A }), end > 0, bytes[end - 1] == 0x0D
        else { return nil }
        let fields = String(decoding: bytes[6..<(end - 1)], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: false)
        guard let proto = fields.first else { return nil }
        if proto == "UNKNOWN" {
            return DecodedProxyHeader(version: 1, command: "UNKNOWN", tlvs: [], length: end + 1)
        }
        guard fields.count == 5, proto == "TCP4" || proto == "TCP6" else { return nil }
        // Addresses of the stated family, ports 0-65535 in plain decimal, as the spec requires.
        let family = proto == "TCP6" ? AF_INET6 : AF_INET
        guard isAddress(fields[1], family), isAddress(fields[2], family), isPort(fields[3]), isPort(fields[4])
        else { return nil }
        let wrap: (Substring, Substring) -> String = { address, port in
            proto == "TCP6" ? "[\(address)]:\(port)" : "\(address):\(port)"
        }
        return DecodedProxyHeader(
            version: 1, command: String(proto), source: wrap(fields[1], fields[3]), destination: wrap(fields[2], fields[4]),
            tlvs: [], length: end + 1)
    }

    private static func decodeV2(_ bytes: [UInt8]) -> DecodedProxyHeader? {
        let versionCommand = bytes[12]
        let family = bytes[13]
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        guard versionCommand >> 4 == 2, bytes.count >= 16 + length else { return nil }
        let command = versionCommand & 0x0F
        var header = DecodedProxyHeader(version: 2, command: command == 0 ? "LOCAL" : "PROXY", tlvs: [], length: 16 + length)
        guard command == 1 else { return command == 0 ? header : nil }
        var offset = 16
        // TCP over IPv4 (0x11) or IPv6 (0x21) only: a relay of TCP connections sends nothing else.
        switch family {
        case 0x11:
            guard length >= 12 else { return nil }
            header.source = "\(text(AF_INET, bytes[16..<20])):\(port(bytes, 24))"
            header.destination = "\(text(AF_INET, bytes[20..<24])):\(port(bytes, 26))"
            offset += 12
        case 0x21:
            guard length >= 36 else { return nil }
            header.source = "[\(text(AF_INET6, bytes[16..<32]))]:\(port(bytes, 48))"
            header.destination = "[\(text(AF_INET6, bytes[32..<48]))]:\(port(bytes, 50))"
            offset += 36
        default:
            return nil
        }
        var crcOffset: Int?
        while offset < 16 + length {
            guard offset + 3 <= 16 + length else { return nil }
            let type = bytes[offset]
            let size = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            guard offset + 3 + size <= 16 + length else { return nil }
            if type == 0x03 { crcOffset = offset + 3 }
            header.tlvs.append(.init(type: type, value: Array(bytes[(offset + 3)..<(offset + 3 + size)])))
            offset += 3 + size
        }
        if let crcOffset {
            var copy = Array(bytes[0..<(16 + length)])
            let sent = copy[crcOffset..<(crcOffset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            for index in crcOffset..<(crcOffset + 4) { copy[index] = 0 }
            header.checksumValid = bitwiseCRC32C(copy) == sent
        }
        return header
    }

    private static func isAddress(_ text: Substring, _ family: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(family, String(text), &buffer) == 1
    }

    private static func isPort(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ ("0"..."9").contains($0) }),
              text == "0" || !text.hasPrefix("0"), let value = Int(text)
        else { return false }
        return value <= 65535
    }

    private static func port(_ bytes: [UInt8], _ offset: Int) -> Int { Int(bytes[offset]) << 8 | Int(bytes[offset + 1]) }

    private static func text(_ family: Int32, _ address: ArraySlice<UInt8>) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let raw = Array(address)
        _ = raw.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, 64) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time.
    public static func bitwiseCRC32C(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }
}
