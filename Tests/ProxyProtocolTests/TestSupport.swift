import ProxyProtocol
import Testing

/// The bytes of ASCII (or UTF-8) text.
func ascii(_ text: String) -> [UInt8] {
    Array(text.utf8)
}

let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

/// A v2 header: signature, version/command byte, family byte, the length field (defaults to the
/// body's length) and the body.
func v2Header(versionCommand: UInt8 = 0x21, family: UInt8 = 0x11, length: Int? = nil, body: [UInt8] = []) -> [UInt8] {
    let lengthField = UInt16(length ?? body.count)
    return v2Signature + [versionCommand, family, UInt8(lengthField >> 8), UInt8(lengthField & 0xFF)] + body
}

/// One TLV on the wire.
func tlvBytes(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
    [type, UInt8(value.count >> 8), UInt8(value.count & 0xFF)] + value
}

/// The 12-byte IPv4 block: 192.0.2.1:49152 -> 198.51.100.7:443.
let ipv4Block: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 7, 0xC0, 0x00, 0x01, 0xBB]
let ipv4BlockAddresses = ProxyAddresses.ipv4(
    source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(198, 51, 100, 7), sourcePort: 49152,
    destinationPort: 443)

/// The 36-byte IPv6 block: [2001:db8::1]:1 -> [2001:db8::2]:65535.
let ipv6Block: [UInt8] = {
    let documentationPrefix: [UInt8] = [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11)
    let ports: [UInt8] = [0x00, 0x01, 0xFF, 0xFF]
    return documentationPrefix + [1] + documentationPrefix + [2] + ports
}()
let ipv6BlockAddresses = ProxyAddresses.ipv6(
    source: IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1),
    destination: IPv6Address(high: 0x2001_0DB8_0000_0000, low: 2),
    sourcePort: 1, destinationPort: 65535)

/// A header with a CRC32C TLV appended and its checksum filled in (TLVs given before it).
func v2HeaderWithChecksum(versionCommand: UInt8 = 0x21, family: UInt8 = 0x11, body: [UInt8]) -> [UInt8] {
    var bytes = v2Header(versionCommand: versionCommand, family: family, body: body + tlvBytes(0x03, [0, 0, 0, 0]))
    let checksum = CRC32C.checksum(bytes)
    let end = bytes.count
    bytes[end - 4] = UInt8(checksum >> 24)
    bytes[end - 3] = UInt8(checksum >> 16 & 0xFF)
    bytes[end - 2] = UInt8(checksum >> 8 & 0xFF)
    bytes[end - 1] = UInt8(checksum & 0xFF)
    return bytes
}

let detector = ProxyHeaderDetector()

/// What a table row expects from the detector on its whole input.
enum ExpectedDetection: Sendable, CustomStringConvertible {
    case header(ProxyHeader, consumed: Int?)
    case invalid(ProxyProtocolErrorCode)
    case notProxy
    case needMore

    var description: String {
        switch self {
        case .header(_, let consumed): return "header(consumed: \(consumed.map(String.init) ?? "all"))"
        case .invalid(let code): return "invalid(\(code.name))"
        case .notProxy: return "notProxy"
        case .needMore: return "needMore"
        }
    }
}

/// A named input and what the detector should say about it.
struct DetectionCase: Sendable, CustomTestStringConvertible {
    var name: String
    var input: [UInt8]
    var expected: ExpectedDetection

    init(_ name: String, _ input: [UInt8], _ expected: ExpectedDetection) {
        self.name = name
        self.input = input
        self.expected = expected
    }

    init(_ name: String, _ text: String, _ expected: ExpectedDetection) {
        self.init(name, ascii(text), expected)
    }

    var testDescription: String { "\(name) -> \(expected)" }
}

/// Checks the detector's answer for a table row, then that every shorter prefix is `needMore` or
/// the same answer (a decision never changes as bytes arrive), and that payload after the input
/// changes nothing.
func checkDetection(_ row: DetectionCase, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = detector.detect(row.input)
    switch row.expected {
    case .header(let header, let consumed):
        let expectedConsumed = consumed ?? row.input.count
        #expect(result == .header(header, consumed: expectedConsumed), "\(row.name)", sourceLocation: sourceLocation)
    case .invalid(let code):
        guard case .invalid(let error) = result else {
            Issue.record("\(row.name): expected \(code.name), got \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(row.name): \(error)", sourceLocation: sourceLocation)
    case .notProxy:
        #expect(result == .notProxy, "\(row.name)", sourceLocation: sourceLocation)
    case .needMore:
        #expect(result == .needMore, "\(row.name)", sourceLocation: sourceLocation)
    }
    for length in 0..<row.input.count {
        let prefixResult = detector.detect(Array(row.input[0..<length]))
        if prefixResult != .needMore {
            #expect(
                prefixResult == result, "\(row.name): prefix \(length) decided \(prefixResult)",
                sourceLocation: sourceLocation)
            break
        }
    }
    if result != .needMore {
        let withPayload = detector.detect(row.input + ascii("GET / HTTP/1.1\r\n\r\n"))
        #expect(withPayload == result, "\(row.name) followed by payload", sourceLocation: sourceLocation)
    }
}

/// SplitMix64: a tiny seeded generator, so that random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random IPv6 addresses that often contain runs of zero groups (where the text forms differ).
func randomIPv6<G: RandomNumberGenerator>(using rng: inout G) -> IPv6Address {
    var halves: (UInt64, UInt64) = (0, 0)
    for index in 0..<8 {
        let group: UInt64
        switch Int.random(in: 0..<4, using: &rng) {
        case 0, 1: group = 0
        case 2: group = UInt64.random(in: 0...0xF, using: &rng)
        default: group = UInt64.random(in: 0...0xFFFF, using: &rng)
        }
        if index < 4 {
            halves.0 |= group << UInt64(48 - 16 * index)
        } else {
            halves.1 |= group << UInt64(48 - 16 * (index - 4))
        }
    }
    if Int.random(in: 0..<10, using: &rng) == 0 {
        return IPv6Address(v4Mapped: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)))
    }
    return IPv6Address(high: halves.0, low: halves.1)
}
