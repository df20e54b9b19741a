/// One type-length-value item after the address block of a v2 header.
///
/// Unknown types are kept as they came; registered types are checked where the spec gives a rule
/// (CRC32C exactly 4 bytes, UNIQUE_ID at most 128, SSL at least 5 with well-formed sub-TLVs).
public struct ProxyTLV: Hashable, Sendable {
    public var type: UInt8
    public var value: [UInt8]

    @inlinable
    public init(type: UInt8, value: [UInt8]) {
        self.type = type
        self.value = value
    }

    /// A TLV whose value is the UTF-8 of `text` (AUTHORITY, NETNS, SSL string sub-types).
    public init(type: UInt8, text: some StringProtocol) {
        self.init(type: type, value: Array(text.utf8))
    }

    // Registered types (proxy-protocol.txt section 2.2).
    public static let alpn: UInt8 = 0x01
    public static let authority: UInt8 = 0x02
    public static let crc32c: UInt8 = 0x03
    public static let noop: UInt8 = 0x04
    public static let uniqueID: UInt8 = 0x05
    public static let ssl: UInt8 = 0x20
    public static let sslVersion: UInt8 = 0x21
    public static let sslCommonName: UInt8 = 0x22
    public static let sslCipher: UInt8 = 0x23
    public static let sslSignatureAlgorithm: UInt8 = 0x24
    public static let sslKeyAlgorithm: UInt8 = 0x25
    public static let netns: UInt8 = 0x30

    /// Types reserved for application-specific data.
    public static let customTypes: ClosedRange<UInt8> = 0xE0...0xEF
    /// Types reserved for temporary experiments.
    public static let experimentalTypes: ClosedRange<UInt8> = 0xF0...0xF7
    /// Types reserved for a future multi-byte type extension.
    public static let futureTypes: ClosedRange<UInt8> = 0xF8...0xFF

    /// The longest UNIQUE_ID value the spec allows.
    public static let maximumUniqueIDLength = 128

    /// The value as UTF-8 text, or nil when it is not valid UTF-8.
    public var text: String? {
        String(validating: value, as: UTF8.self)
    }
}

extension ProxyTLV {
    /// Checks the rules the spec gives for a registered type; every other type passes.
    /// The parser and the encoder both apply it, so whatever the encoder writes the parser accepts.
    static func validate(type: UInt8, value: UnsafeRawBufferPointer) throws(ProxyProtocolError) {
        switch type {
        case ProxyTLV.crc32c:
            guard value.count == 4 else { throw .v2CRC32CBadLength(value.count) }
        case ProxyTLV.uniqueID:
            guard value.count <= maximumUniqueIDLength else { throw .v2UniqueIDTooLong(value.count) }
        case ProxyTLV.ssl:
            try ProxySSLInfo.validate(value: value)
        default:
            break
        }
    }
}

/// Walks a run of TLVs (a header's TLV area or an SSL TLV's sub-TLVs) without copying.
struct TLVReader {
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next TLV within `bytes`.
    private(set) var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, startingAt offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    struct Item {
        var type: UInt8
        /// Where the value starts within the reader's bytes.
        var valueOffset: Int
        var value: UnsafeRawBufferPointer
    }

    /// The next TLV; nil at the end. Returns `.failure(offset)` when the TLV at `offset` overruns,
    /// leaving the caller to pick the error that fits the level it reads.
    mutating func next() -> Result<Item, TLVOverrun>? {
        guard offset < bytes.count else { return nil }
        let start = offset
        guard bytes.count - start >= V2Layout.tlvHeaderLength else { return .failure(TLVOverrun(offset: start)) }
        let length = Int(bytes.loadBigEndian(at: start + 1, as: UInt16.self))
        let valueOffset = start + V2Layout.tlvHeaderLength
        guard bytes.count - valueOffset >= length else { return .failure(TLVOverrun(offset: start)) }
        offset = valueOffset + length
        let value = UnsafeRawBufferPointer(rebasing: bytes[valueOffset..<offset])
        return .success(Item(type: bytes[start], valueOffset: valueOffset, value: value))
    }
}

struct TLVOverrun: Error {
    var offset: Int
}
