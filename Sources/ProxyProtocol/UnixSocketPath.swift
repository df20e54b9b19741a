/// A `sun_path` as a v2 header carries it: exactly 108 raw bytes, NUL-padded, stored inline so
/// that parsing a header does not allocate.
///
/// The bytes are kept as received; `path` reads them the way the kernel does (up to the first NUL).
/// A path whose first byte is NUL is a Linux abstract socket name.
public struct UnixSocketPath: Hashable, Sendable, CustomStringConvertible {
    /// The number of bytes a v2 header reserves for one path.
    public static let byteCount = 108

    // 13 * 8 + 4 = 108 bytes, no padding between the members.
    @usableFromInline
    typealias Storage = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt32
    )

    @usableFromInline
    var storage: Storage = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    /// All 108 bytes zero: the empty path.
    @inlinable
    public init() {}

    /// A path from up to 108 bytes, zero-padded; nil when `bytes` holds more than 108.
    public init?(_ bytes: some Sequence<UInt8>) {
        var count = 0
        var overflow = false
        withUnsafeMutableBytes(of: &storage) { raw in
            for byte in bytes {
                guard count < Self.byteCount else {
                    overflow = true
                    return
                }
                raw[count] = byte
                count += 1
            }
        }
        if overflow { return nil }
    }

    /// A path from its UTF-8 text, zero-padded; nil when the text is longer than 108 bytes.
    public init?(path: some StringProtocol) {
        self.init(path.utf8)
    }

    /// Copies exactly 108 bytes from `bytes` (the caller checked the length).
    @inlinable
    init(copying bytes: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(Self.byteCount)))
        }
    }

    /// Byte `index` (0-107).
    @inlinable
    public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < Self.byteCount, "UnixSocketPath index out of range")
        return Swift.withUnsafeBytes(of: storage) { $0[index] }
    }

    /// Calls `body` with the 108 bytes.
    @inlinable
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var copy = storage
        return try Swift.withUnsafeBytes(of: &copy) { (raw) throws(Failure) -> Result in
            try body(UnsafeRawBufferPointer(rebasing: raw.prefix(Self.byteCount)))
        }
    }

    /// All 108 bytes as received.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The bytes before the first NUL (empty for an abstract socket name).
    public var pathBytes: [UInt8] {
        withUnsafeBytes { raw in Array(raw.prefix { $0 != 0 }) }
    }

    /// True when the first byte is NUL and another byte is not: a Linux abstract socket name.
    public var isAbstract: Bool {
        withUnsafeBytes { raw in raw[0] == 0 && raw.contains { $0 != 0 } }
    }

    /// The path as text, invalid UTF-8 repaired; abstract names are shown as `@name`.
    public var description: String {
        withUnsafeBytes { raw in
            if raw[0] == 0 {
                let name = raw.dropFirst().prefix { $0 != 0 }
                return name.isEmpty ? "" : "@" + String(decoding: name, as: UTF8.self)
            }
            return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    public static func == (lhs: UnixSocketPath, rhs: UnixSocketPath) -> Bool {
        lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { right in left.elementsEqual(right) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
