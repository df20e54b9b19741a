import ProxyProtocol
import Testing

/// The bytes of ASCII (or UTF-8) text.
public func ascii(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

public let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

/// A v2 header: signature, version/command byte, family byte, the length field (defaults to the
/// body's length) and the body.
public func v2Header(versionCommand: UInt8 = 0x21, family: UInt8 = 0x11, length: Int? = nil, body: [UInt8] = []) -> [UInt8] {
    let lengthField = UInt16(length ?? body.count)
    return v2Signature + [versionCommand, family, UInt8(lengthField >> 8), UInt8(lengthField & 0xFF)] + body
}

/// One TLV on the wire.
public func tlvBytes(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
    [type, UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
}

/// The 12-byte IPv4 block: 192.0.2.1:49152 -> 198.51.100.7:443.
public let ipv4Block: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 7, 0xC0, 0x00, 0x01, 0xBB]
public let ipv4BlockAddresses = ProxyAddresses.ipv4(
    source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(198, 51, 100, 7), sourcePort: 49152,
    destinationPort: 443)

/// The 36-byte IPv6 block: [2001:db8::1]:1 -> [2001:db8::2]:65535.
public let ipv6Block: [UInt8] = {
    let documentationPrefix: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11)
    let ports: [UInt8] = [0x00, 0x01, 0xFF, 0xFF]
    return documentationPrefix + [1] + documentationPrefix + [2] + ports
}()
public let ipv6BlockAddresses = ProxyAddresses.ipv6(
    source: IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1),
    destination: IPv6Address(high: 0x2001_0DB8_0000_0000, low: 2),
    sourcePort: 1, destinationPort: 65535)

/// A header with a CRC32C TLV appended and its checksum filled in (TLVs given before it).
public func v2HeaderWithChecksum(versionCommand: UInt8 = 0x21, family: UInt8 = 0x11, body: [UInt8]) -> [UInt8] {
    var bytes = v2Header(versionCommand: versionCommand, family: family, body: body + tlvBytes(0x03, [0, 0, 0, 0]))
    let checksum = CRC32C.checksum(bytes)
    let end = bytes.count
    bytes[end - 4] = UInt8(checksum >> 24)
    bytes[end - 3] = UInt8(checksum >> 16 & 0xFF)
    bytes[end - 2] = UInt8(checksum >> 8 & 0xFF)
    bytes[end - 1] = UInt8(checksum & 0xFF)
    return bytes
}

/// What a table row expects from the detector on its whole input.
public enum ExpectedDetection: Sendable, CustomStringConvertible {
    case header(ProxyHeader, consumed: Int?)
    case invalid(ProxyProtocolErrorCode)
    case notProxy
    case needMore

    public var description: String {
        switch self {
        case .header(_, let consumed): return "header(consumed: \(consumed.map(String.init) ?? "all"))"
        case .invalid(let code): return "invalid(\(code.name))"
        case .notProxy: return "notProxy"
        case .needMore: return "needMore"
        }
    }
}

/// A named input and what the detector should say about it.
public struct DetectionCase: Sendable, CustomTestStringConvertible {
    public var name: String
    public var input: [UInt8]
    public var expected: ExpectedDetection

    public init(_ name: String, _ input: [UInt8], _ expected: ExpectedDetection) {
        self.name = name
        self.input = input
        self.expected = expected
    }

    public init(_ name: String, _ text: String, _ expected: ExpectedDetection) {
        self.init(name, ascii(text), expected)
    }

    public var testDescription: String { "\(name) -> \(expected)" }
}


/// The 216-byte AF_UNIX block: a path and an abstract name.
public let unixBlock: [UInt8] =
    UnixSocketPath(path: "/run/haproxy/client.sock")!.bytes + UnixSocketPath([0] + Array("abstract-name".utf8))!.bytes

/// `bytes` with the byte at `offset` inverted.
public func corrupted(_ bytes: [UInt8], at offset: Int) -> [UInt8] {
    var copy = bytes
    copy[offset] ^= 0xFF
    return copy
}

/// Inputs every receiver must refuse, each with the error it must give. The codec tests run
/// them through the detector; the relay tests send the same bytes over real connections.
public enum ProxyVectors {
    public static let invalidV1Lines: [DetectionCase] = [
        // Line endings and length.
        DetectionCase("lone LF at the end", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", .invalid(.v1BadLineEnding)),
        DetectionCase("CR then another byte", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", .invalid(.v1BadLineEnding)),
        DetectionCase("CR CR LF", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", .invalid(.v1BadLineEnding)),
        DetectionCase("LF inside a field", "PROXY TCP4 1.2.\n3.4", .invalid(.v1BadLineEnding)),
        DetectionCase("LF right after PROXY", "PROXY\n", .invalid(.v1BadLineEnding)),
        DetectionCase("UNKNOWN with a lone LF", "PROXY UNKNOWN abc\ndef\r\n", .invalid(.v1BadLineEnding)),
        DetectionCase("UNKNOWN with a lone CR", "PROXY UNKNOWN abc\rdef\r\n", .invalid(.v1BadLineEnding)),
        DetectionCase(
            "UNKNOWN one byte over 107", "PROXY UNKNOWN " + String(repeating: "x", count: 92) + "\r\n",
            .invalid(.v1LineTooLong)),
        DetectionCase(
            "no CRLF within 107 bytes", "PROXY UNKNOWN " + String(repeating: "y", count: 200),
            .invalid(.v1LineTooLong)),
        // Structure.
        DetectionCase("no space after PROXY", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1MissingSpace)),
        DetectionCase("line ends after PROXY", "PROXY\r\n", .invalid(.v1MissingField)),
        DetectionCase("double space before protocol", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1EmptyField)),
        DetectionCase("space then CRLF", "PROXY \r\n", .invalid(.v1EmptyField)),
        DetectionCase("double space before source", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1EmptyField)),
        DetectionCase("double space before port", "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", .invalid(.v1EmptyField)),
        DetectionCase("trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", .invalid(.v1EmptyField)),
        DetectionCase("TCP4 without fields", "PROXY TCP4\r\n", .invalid(.v1MissingField)),
        DetectionCase("missing destination port", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", .invalid(.v1MissingField)),
        DetectionCase("missing ports", "PROXY TCP6 ::1 ::2\r\n", .invalid(.v1MissingField)),
        DetectionCase("a fifth field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", .invalid(.v1TooManyFields)),
        DetectionCase("tab separator", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", .invalid(.v1BadSourceAddress)),
        // Protocol token.
        DetectionCase("TCP5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("lower case", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("UDP4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("UNKNOWNX", "PROXY UNKNOWNX\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("TCP", "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("TCP44", "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadProtocol)),
        DetectionCase("UNKNOWN cut short", "PROXY UNKNOW\r\n", .invalid(.v1BadProtocol)),
        // Addresses.
        DetectionCase("three-part IPv4", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("leading zero octet", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("octet 256", "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n", .invalid(.v1BadDestinationAddress)),
        DetectionCase("five-part IPv4", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("trailing dot", "PROXY TCP4 1.2.3.4 5.6.7. 1 2\r\n", .invalid(.v1BadDestinationAddress)),
        DetectionCase("empty octet", "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("IPv6 under TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", .invalid(.v1AddressFamilyMismatch)),
        DetectionCase("IPv4 under TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", .invalid(.v1AddressFamilyMismatch)),
        DetectionCase(
            "IPv4 destination under TCP6", "PROXY TCP6 ::1 5.6.7.8 1 2\r\n", .invalid(.v1AddressFamilyMismatch)),
        DetectionCase("mixed IPv6 form", "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("bracketed IPv6", "PROXY TCP6 [::1] ::1 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("IPv6 zone id", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase(
            "nine IPv6 groups", "PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", .invalid(.v1BadDestinationAddress)),
        DetectionCase("two gaps", "PROXY TCP6 ::1 1::2::3 1 2\r\n", .invalid(.v1BadDestinationAddress)),
        DetectionCase("five-digit group", "PROXY TCP6 12345::1 ::1 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase("seven IPv6 groups", "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", .invalid(.v1BadSourceAddress)),
        DetectionCase(
            "non-ASCII in an address", ascii("PROXY TCP4 1.2.3.") + [0xC2, 0xB9] + ascii(" 5.6.7.8 1 2\r\n"),
            .invalid(.v1BadSourceAddress)),
        // Ports.
        DetectionCase("source port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", .invalid(.v1PortOutOfRange)),
        DetectionCase("destination port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 80 65536\r\n", .invalid(.v1PortOutOfRange)),
        DetectionCase(
            "huge port", "PROXY TCP4 1.2.3.4 5.6.7.8 99999999999999999999 1\r\n", .invalid(.v1PortOutOfRange)),
        DetectionCase("leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n", .invalid(.v1BadPort)),
        DetectionCase("double zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 00 80\r\n", .invalid(.v1BadPort)),
        DetectionCase("plus sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +80 80\r\n", .invalid(.v1BadPort)),
        DetectionCase("negative port", "PROXY TCP4 1.2.3.4 5.6.7.8 80 -1\r\n", .invalid(.v1BadPort)),
        DetectionCase("hex port", "PROXY TCP6 ::1 ::1 8a 80\r\n", .invalid(.v1BadPort)),
    ]

    public static let invalidV2Headers: [DetectionCase] = [
        DetectionCase("version 1", v2Header(versionCommand: 0x11, body: ipv4Block), .invalid(.v2BadVersion)),
        DetectionCase("version 3", v2Header(versionCommand: 0x31, body: ipv4Block), .invalid(.v2BadVersion)),
        DetectionCase("version 0", v2Header(versionCommand: 0x01, body: ipv4Block), .invalid(.v2BadVersion)),
        DetectionCase("command 2", v2Header(versionCommand: 0x22, body: ipv4Block), .invalid(.v2BadCommand)),
        DetectionCase("command 15", v2Header(versionCommand: 0x2F, body: ipv4Block), .invalid(.v2BadCommand)),
        DetectionCase("family 0x13", v2Header(family: 0x13, body: ipv4Block), .invalid(.v2BadFamily)),
        DetectionCase("family 0x01 (UNSPEC over stream)", v2Header(family: 0x01), .invalid(.v2BadFamily)),
        DetectionCase(
            "family 0x10 (IPv4 over UNSPEC)", v2Header(family: 0x10, body: ipv4Block), .invalid(.v2BadFamily)),
        DetectionCase("family 0x41", v2Header(family: 0x41, body: ipv4Block), .invalid(.v2BadFamily)),
        DetectionCase("LOCAL with family 0xFF", v2Header(versionCommand: 0x20, family: 0xFF), .invalid(.v2BadFamily)),
        DetectionCase("length over the limit", v2Header(family: 0x11, length: 4081), .invalid(.v2HeaderTooLong)),
        DetectionCase("length 65535", v2Header(family: 0x11, length: 65535), .invalid(.v2HeaderTooLong)),
        DetectionCase(
            "IPv4 block of 11", v2Header(family: 0x11, body: Array(ipv4Block[0..<11])),
            .invalid(.v2AddressBlockTooShort)),
        DetectionCase(
            "IPv6 block of 35", v2Header(family: 0x21, body: Array(ipv6Block[0..<35])),
            .invalid(.v2AddressBlockTooShort)),
        DetectionCase(
            "IPv6 family with an IPv4 block", v2Header(family: 0x21, body: ipv4Block), .invalid(.v2AddressBlockTooShort)
        ),
        DetectionCase(
            "UNIX block of 215", v2Header(family: 0x31, body: Array(unixBlock[0..<215])),
            .invalid(.v2AddressBlockTooShort)),
        DetectionCase("TCP4 with length 0", v2Header(family: 0x11), .invalid(.v2AddressBlockTooShort)),
        DetectionCase(
            "one byte after the addresses", v2Header(family: 0x11, body: ipv4Block + [0x04]), .invalid(.v2TLVOverrun)),
        DetectionCase(
            "two bytes after the addresses", v2Header(family: 0x11, body: ipv4Block + [0x04, 0x00]),
            .invalid(.v2TLVOverrun)),
        DetectionCase(
            "TLV longer than the header", v2Header(family: 0x11, body: ipv4Block + [0x02, 0x00, 0x05, 0x61]),
            .invalid(.v2TLVOverrun)),
        DetectionCase(
            "second TLV overruns", v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x04, []) + [0xE0, 0xFF, 0xFF]),
            .invalid(.v2TLVOverrun)),
        DetectionCase(
            "CRC32C of 3 bytes", v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x03, [1, 2, 3])),
            .invalid(.v2CRC32CBadLength)),
        DetectionCase(
            "CRC32C of 5 bytes", v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x03, [1, 2, 3, 4, 5])),
            .invalid(.v2CRC32CBadLength)),
        DetectionCase(
            "CRC32C mismatch", corrupted(v2HeaderWithChecksum(family: 0x11, body: ipv4Block), at: 16),
            .invalid(.v2CRC32CMismatch)),
        DetectionCase(
            "CRC32C value flipped", corrupted(v2HeaderWithChecksum(family: 0x11, body: ipv4Block), at: 31),
            .invalid(.v2CRC32CMismatch)),
        DetectionCase(
            "two CRC32C TLVs",
            v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x03, [0, 0, 0, 0]) + tlvBytes(0x03, [0, 0, 0, 0])),
            .invalid(.v2CRC32CDuplicate)),
        DetectionCase(
            "UNIQUE_ID of 129 bytes",
            v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x05, [UInt8](repeating: 1, count: 129))),
            .invalid(.v2UniqueIDTooLong)),
        DetectionCase(
            "SSL of 4 bytes", v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x20, [1, 0, 0, 0])),
            .invalid(.v2MalformedSSL)),
        DetectionCase(
            "SSL sub-TLV overrun",
            v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x20, [1, 0, 0, 0, 0, 0x21, 0x00, 0x09, 0x54])),
            .invalid(.v2MalformedSSL)),
        DetectionCase(
            "SSL with a partial sub-TLV header",
            v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x20, [1, 0, 0, 0, 0, 0x21])),
            .invalid(.v2MalformedSSL)),
    ]
}
