/// Decides whether a connection starts with a PROXY header, from all bytes received so far.
///
/// Stateless: call `detect` with the whole accumulated input each time more arrives. It reads only
/// the bytes given, and is cheap to call repeatedly: a v1 line is at most 107 bytes, and a v2
/// header costs O(1) per call until its last byte arrives.
///
/// `notProxy` comes at the first byte that fits neither signature ("GET" after 1 byte, the
/// HTTP/2 preface after 3). Five bytes of "PROXY" commit to v1 and twelve bytes of the v2 signature
/// commit to v2; from then on the answer is `needMore`, `header` or `invalid`, with `invalid` as
/// soon as the bytes allow.
public struct ProxyHeaderDetector: Sendable {
    /// The smallest limit accepted: the 16 fixed bytes of a v2 header.
    public static let minimumHeaderLength = V2Layout.fixedLength
    /// The largest v2 header the 16-bit length field can describe (16 + 65535).
    public static let maximumPossibleHeaderLength = V2Layout.maximumLength

    /// The longest v2 header accepted, clamped to `minimumHeaderLength...maximumPossibleHeaderLength`.
    /// A v2 header whose length field goes beyond it is `invalid` as soon as its 16th byte arrives.
    /// v1 lines have their own fixed limit of 107 bytes. A limit below a family's size (28 for
    /// IPv4, 52 for IPv6, 232 for AF_UNIX) rejects every PROXY header of that family.
    public var maximumHeaderLength: Int {
        didSet { maximumHeaderLength = Self.clamp(maximumHeaderLength) }
    }

    public init(maximumHeaderLength: Int = 4096) {
        self.maximumHeaderLength = Self.clamp(maximumHeaderLength)
    }

    private static func clamp(_ length: Int) -> Int {
        min(max(length, minimumHeaderLength), maximumPossibleHeaderLength)
    }

    /// Given all bytes received so far on a connection, decides.
    public func detect(_ bytes: UnsafeRawBufferPointer) -> ProxyDetection {
        guard let first = bytes.first else { return .needMore }
        if first == ProxySignature.v1Byte(0) {
            guard bytes.count > ProxySignature.v1Length else {
                return ProxySignature.isV1Prefix(bytes) ? .needMore : .notProxy
            }
            guard ProxySignature.startsWithV1(bytes) else { return .notProxy }
            return V1HeaderParser.parse(bytes)
        }
        if first == ProxySignature.v2Byte(0) {
            guard bytes.count > ProxySignature.v2Length else {
                return ProxySignature.isV2Prefix(bytes) ? .needMore : .notProxy
            }
            guard ProxySignature.startsWithV2(bytes) else { return .notProxy }
            return V2HeaderParser.parse(bytes, maximumHeaderLength: maximumHeaderLength)
        }
        return .notProxy
    }

    /// Given all bytes received so far on a connection, decides.
    public func detect(_ bytes: [UInt8]) -> ProxyDetection {
        bytes.withUnsafeBytes { detect($0) }
    }

    /// Parses a header from input known to be complete: running out of bytes is `.truncated`
    /// and input that is not a PROXY header is `.badSignature`.
    public func parse(
        _ bytes: UnsafeRawBufferPointer
    ) throws(ProxyProtocolError) -> (header: ProxyHeader, consumed: Int) {
        try Self.header(from: detect(bytes), available: bytes.count)
    }

    /// Parses a header from input known to be complete; see `parse(_:)`.
    public func parse(_ bytes: [UInt8]) throws(ProxyProtocolError) -> (header: ProxyHeader, consumed: Int) {
        try Self.header(from: detect(bytes), available: bytes.count)
    }

    private static func header(
        from detection: ProxyDetection,
        available: Int
    ) throws(ProxyProtocolError) -> (header: ProxyHeader, consumed: Int) {
        switch detection {
        case .header(let header, let consumed): return (header, consumed)
        case .needMore: throw .truncated(available: available)
        case .notProxy: throw .badSignature
        case .invalid(let error): throw error
        }
    }
}
