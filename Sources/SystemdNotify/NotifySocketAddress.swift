/// Where the service manager listens for a service's notifications: `$NOTIFY_SOCKET`, an
/// AF_UNIX datagram socket named by an absolute path, or by an abstract name when it starts
/// with `@` (systemd's own spelling of the leading NUL byte).
public enum NotifySocketAddress: Equatable, Sendable {
    case path(String)
    /// The name without the `@`.
    case abstract(String)

    /// Bytes of `sun_path` a name may use: a path keeps one for its terminating NUL, an abstract
    /// name one for its leading NUL (as systemd's own sd_notify counts them).
    public static let maximumLength = 107

    /// Reads `$NOTIFY_SOCKET`'s value.
    public init(_ value: String) throws(NotifySocketAddressError) {
        guard let first = value.utf8.first else { throw .empty }
        if value.utf8.contains(0) { throw .containsNUL }
        let name: String
        switch first {
        case UInt8(ascii: "/"):
            name = value
        case UInt8(ascii: "@"):
            name = String(value.dropFirst())
            guard !name.isEmpty else { throw .empty }
        default:
            // systemd 253 also hands out AF_VSOCK addresses (vsock:CID:PORT) to virtual machines.
            if value.hasPrefix("vsock:") || value.hasPrefix("vsock-") { throw .unsupportedFamily(value) }
            throw .notAbsolute(value)
        }
        guard name.utf8.count <= Self.maximumLength else {
            throw .tooLong(value, bytes: name.utf8.count, limit: Self.maximumLength)
        }
        self = first == UInt8(ascii: "/") ? .path(name) : .abstract(name)
    }

    /// The bytes that go into `sun_path`: the path, or a NUL and the abstract name.
    var socketPathBytes: [UInt8] {
        switch self {
        case .path(let path): return Array(path.utf8)
        case .abstract(let name): return [0] + Array(name.utf8)
        }
    }
}

/// Why `$NOTIFY_SOCKET` names no socket Ringway can send to.
public enum NotifySocketAddressError: Error, Equatable, CustomStringConvertible {
    case empty
    case containsNUL
    case notAbsolute(String)
    case unsupportedFamily(String)
    case tooLong(String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .empty:
            return "NOTIFY_SOCKET is set but names no socket"
        case .containsNUL:
            return "NOTIFY_SOCKET contains a NUL byte"
        case .notAbsolute(let value):
            return "NOTIFY_SOCKET=\(value) is neither an absolute path nor an @abstract name"
        case .unsupportedFamily(let value):
            return "NOTIFY_SOCKET=\(value) is not an AF_UNIX socket; Ringway notifies over AF_UNIX only"
        case .tooLong(let value, let bytes, let limit):
            return "NOTIFY_SOCKET=\(value) is \(bytes) bytes long; an AF_UNIX socket name holds at most \(limit)"
        }
    }
}
