/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    /// Parses dotted-quad or IPv6 text (no brackets, no zone id).
    public init?(_ text: some StringProtocol) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text, allowEmbeddedIPv4: true) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// A v4-mapped IPv6 address as the IPv4 address it carries; every other address unchanged.
    /// Dual-stack sockets report IPv4 peers as `::ffff:a.b.c.d`; logs, trust checks and PROXY
    /// headers want the IPv4 address.
    @inlinable
    public var unmapped: IPAddress {
        if case .v6(let v6) = self, let v4 = v6.v4Mapped { return .v4(v4) }
        return self
    }

    /// 0.0.0.0 or ::, "this host".
    public var isUnspecified: Bool {
        switch self {
        case .v4(let a): return a.isUnspecified
        case .v6(let a): return a.isUnspecified
        }
    }

    public var isIPv4: Bool {
        if case .v4 = self { return true }
        return false
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return a.isLoopback
        case .v6(let a): return a.isLoopback || (a.v4Mapped?.isLoopback ?? false)
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): return a.description
        case .v6(let a): return a.description
        }
    }
}

/// An IP address and a port: one end of a TCP connection.
public struct IPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    @inlinable
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// `1.2.3.4:80` or `[::1]:80`, the way GOST logs addresses.
    public var description: String {
        switch address {
        case .v4(let a): return "\(a):\(port)"
        case .v6(let a): return "[\(a)]:\(port)"
        }
    }
}
