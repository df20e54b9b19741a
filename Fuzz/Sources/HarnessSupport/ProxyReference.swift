import ProxyProtocol

/// What the PROXY specification says the detector must answer for some bytes, worked out by reference
/// parsers written for the harness: straightforward, whole-input, array-based, sharing no code with the
/// incremental parsers in `ProxyProtocol` (they use its public value types and its public address parsers,
/// which are tested against `inet_pton` in `AddressDifferentialTests`).
public enum ReferenceOutcome: Equatable {
    /// The bytes so far are a viable start of a header: the answer must be `needMore`.
    case needMore
    /// A v1 line still arriving: `needMore`, or `invalid` when the bytes so far already rule out every
    /// valid line (the detector may decide early; the harness checks early decisions separately).
    case undecided
    case header(ProxyHeader, consumed: Int)
    /// Not a valid header; `code`, when known, is the error the first defect must be reported with.
    case invalid(ProxyProtocolErrorCode?)
}

public enum ProxyReference {
    public static let v1Signature: [UInt8] = Array("PROXY".utf8)
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// The longest v1 line, CRLF included.
    public static let v1MaximumLength = 107

    // MARK: Dispatch

    /// The detector's answer for any bytes.
    public static func detect(_ bytes: [UInt8], maximumHeaderLength: Int) -> ReferenceOutcome? {
        guard let first = bytes.first else { return .needMore }
        if first == v1Signature[0] {
            if bytes.count <= v1Signature.count {
                return bytes.elementsEqual(v1Signature.prefix(bytes.count)) ? .needMore : nil
            }
            return bytes.starts(with: v1Signature) ? v1(bytes) : nil
        }
        if first == v2Signature[0] {
            if bytes.count <= v2Signature.count {
                return bytes.elementsEqual(v2Signature.prefix(bytes.count)) ? .needMore : nil
            }
            return bytes.starts(with: v2Signature) ? v2(bytes, maximumHeaderLength: maximumHeaderLength) : nil
        }
        return nil  // not PROXY
    }

    // MARK: Version 1

    /// `bytes` begins with "PROXY" followed by at least one more byte.
    public static func v1(_ bytes: [UInt8]) -> ReferenceOutcome {
        // The line runs to the first CR or LF, which must be the CR of a CRLF at offset 105 at the latest.
        guard let end = bytes.firstIndex(where: { $0 == 0x0D || $0 == 0x0A }) else {
            return bytes.count > v1MaximumLength - 2 ? .invalid(nil) : .undecided
        }
        guard end <= v1MaximumLength - 2, bytes[end] == 0x0D else { return .invalid(nil) }
        guard end + 1 < bytes.count else { return .undecided }
        guard bytes[end + 1] == 0x0A else { return .invalid(nil) }
        guard let header = v1Line(bytes[0..<end]) else { return .invalid(nil) }
        return .header(header, consumed: end + 2)
    }

    /// A whole line without its CRLF: `PROXY TCP4|TCP6 SRC DST SPORT DPORT` with single spaces, or
    /// `PROXY UNKNOWN` with anything (but CR and LF) after a space.
    static func v1Line(_ line: ArraySlice<UInt8>) -> ProxyHeader? {
        let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count >= 2, fields[0].elementsEqual("PROXY".utf8) else { return nil }
        if fields[1].elementsEqual("UNKNOWN".utf8) { return .local(version: .v1) }
        guard fields.count == 6, let sourcePort = v1Port(fields[4]), let destinationPort = v1Port(fields[5]) else {
            return nil
        }
        let addresses: ProxyAddresses
        if fields[1].elementsEqual("TCP4".utf8) {
            guard let source = ipv4(fields[2]), let destination = ipv4(fields[3]) else { return nil }
            addresses = .ipv4(
                source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
        } else if fields[1].elementsEqual("TCP6".utf8) {
            guard let source = ipv6(fields[2]), let destination = ipv6(fields[3]) else { return nil }
            addresses = .ipv6(
                source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
        } else {
            return nil
        }
        return ProxyHeader(version: .v1, command: .proxy, transport: .stream, addresses: addresses)
    }

    /// Decimal 0-65535 without sign or leading zero.
    static func v1Port(_ text: ArraySlice<UInt8>) -> UInt16? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        guard text.count == 1 || text.first != UInt8(ascii: "0") else { return nil }
        let value = text.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return value <= 65535 ? UInt16(value) : nil
    }

    static func ipv4(_ text: ArraySlice<UInt8>) -> IPv4Address? {
        Array(text).withUnsafeBytes { IPv4Address(textBytes: $0) }
    }

    /// Hex groups only: the v1 spec has no embedded dotted quad.
    static func ipv6(_ text: ArraySlice<UInt8>) -> IPv6Address? {
        Array(text).withUnsafeBytes { IPv6Address(textBytes: $0, allowEmbeddedIPv4: false) }
    }

    // MARK: Version 2

    /// `bytes` begins with the 12-byte signature followed by at least one more byte; `maximumHeaderLength`
    /// is the detector's (already clamped) limit.
    public static func v2(_ bytes: [UInt8], maximumHeaderLength: Int) -> ReferenceOutcome {
        guard bytes.count > 12 else { return .needMore }
        guard bytes[12] >> 4 == 2 else { return .invalid(.v2BadVersion) }
        guard bytes[12] & 0x0F <= 1 else { return .invalid(.v2BadCommand) }
        let isProxy = bytes[12] & 0x0F == 1

        guard bytes.count > 13 else { return .needMore }
        let family = bytes[13]
        let addressLength: Int
        switch family {
        case 0x00: addressLength = 0
        case 0x11, 0x12: addressLength = 12
        case 0x21, 0x22: addressLength = 36
        case 0x31, 0x32: addressLength = 216
        default: return .invalid(.v2BadFamily)
        }

        guard bytes.count >= 16 else { return .needMore }
        let length = Int(bytes[14]) << 8 | Int(bytes[15])
        let total = 16 + length
        guard total <= maximumHeaderLength else { return .invalid(.v2HeaderTooLong) }
        guard !isProxy || length >= addressLength else { return .invalid(.v2AddressBlockTooShort) }
        guard bytes.count >= total else { return .needMore }

        // LOCAL and AF_UNSPEC: the block is skipped, whatever it holds.
        guard isProxy, family != 0x00 else {
            let header = ProxyHeader(
                version: .v2, command: isProxy ? .proxy : .local, transport: .unspecified, addresses: .unspecified)
            return .header(header, consumed: total)
        }

        let addresses = v2Addresses(Array(bytes[16..<(16 + addressLength)]), family: family)
        var tlvs: [ProxyTLV] = []
        var checksumOffset: Int?
        let walk = walkTLVs(bytes[(16 + addressLength)..<total])
        for item in walk.items {
            switch item.type {
            case ProxyTLV.crc32c:
                guard item.value.count == 4 else { return .invalid(.v2CRC32CBadLength) }
                guard checksumOffset == nil else { return .invalid(.v2CRC32CDuplicate) }
                checksumOffset = item.valueOffset
            case ProxyTLV.uniqueID:
                guard item.value.count <= 128 else { return .invalid(.v2UniqueIDTooLong) }
            case ProxyTLV.ssl:
                guard ssl(item.value) != nil else { return .invalid(.v2MalformedSSL) }
            default:
                break
            }
            tlvs.append(ProxyTLV(type: item.type, value: Array(item.value)))
        }
        guard walk.complete else { return .invalid(.v2TLVOverrun) }
        if let checksumOffset {
            var header = Array(bytes[0..<total])
            let received = header[checksumOffset..<(checksumOffset + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            header.replaceSubrange(checksumOffset..<(checksumOffset + 4), with: [0, 0, 0, 0])
            guard crc32c(header) == received else { return .invalid(.v2CRC32CMismatch) }
        }
        let transport: ProxyTransport = family & 0x0F == 1 ? .stream : .datagram
        let header = ProxyHeader(version: .v2, command: .proxy, transport: transport, addresses: addresses, tlvs: tlvs)
        return .header(header, consumed: total)
    }

    static func v2Addresses(_ block: [UInt8], family: UInt8) -> ProxyAddresses {
        func integer<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            block[offset..<(offset + T.bitWidth / 8)].reduce(T(0)) { $0 << 8 | T($1) }
        }
        switch family >> 4 {
        case 0x1:
            return .ipv4(
                source: IPv4Address(integer(0, UInt32.self)), destination: IPv4Address(integer(4, UInt32.self)),
                sourcePort: integer(8, UInt16.self), destinationPort: integer(10, UInt16.self))
        case 0x2:
            return .ipv6(
                source: IPv6Address(high: integer(0, UInt64.self), low: integer(8, UInt64.self)),
                destination: IPv6Address(high: integer(16, UInt64.self), low: integer(24, UInt64.self)),
                sourcePort: integer(32, UInt16.self), destinationPort: integer(34, UInt16.self))
        default:
            return .unix(source: UnixSocketPath(block[0..<108])!, destination: UnixSocketPath(block[108..<216])!)
        }
    }

    // MARK: TLVs

    public struct RawTLV {
        public var type: UInt8
        /// Index of the value in the array the walked slice came from.
        public var valueOffset: Int
        public var value: ArraySlice<UInt8>
    }

    /// The TLVs laid end to end in `area`, as far as they are whole; `complete` is false when the last one
    /// (or its 3-byte type and length) runs past the end.
    public static func walkTLVs(_ area: ArraySlice<UInt8>) -> (items: [RawTLV], complete: Bool) {
        var items: [RawTLV] = []
        var index = area.startIndex
        while index < area.endIndex {
            guard area.endIndex - index >= 3 else { return (items, false) }
            let length = Int(area[index + 1]) << 8 | Int(area[index + 2])
            let valueStart = index + 3
            guard area.endIndex - valueStart >= length else { return (items, false) }
            items.append(
                RawTLV(type: area[index], valueOffset: valueStart, value: area[valueStart..<(valueStart + length)]))
            index = valueStart + length
        }
        return (items, true)
    }

    /// The value of a PP2_TYPE_SSL TLV: client (1 byte), verify (4 bytes, big-endian), then sub-TLVs that
    /// end exactly at the end.
    public static func ssl(_ value: ArraySlice<UInt8>) -> ProxySSLInfo? {
        guard value.count >= 5 else { return nil }
        let start = value.startIndex
        let verify = value[(start + 1)..<(start + 5)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let walk = walkTLVs(value[(start + 5)...])
        guard walk.complete else { return nil }
        return ProxySSLInfo(
            client: value[start], verify: verify,
            subTLVs: walk.items.map { ProxyTLV(type: $0.type, value: Array($0.value)) })
    }

    /// CRC-32C, bit by bit (reflected polynomial 0x82F63B78, initial value and final XOR all ones).
    public static func crc32c(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
        }
        return ~crc
    }
}
