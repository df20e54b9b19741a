import Glibc
import ProxyProtocol
import Uring

/// Conversions between `IPEndpoint` and the kernel's socket addresses. IPv4 peers of a
/// dual-stack socket arrive as `::ffff:a.b.c.d`; they are unmapped here, once, so logs, trust
/// checks and PROXY headers all see the IPv4 address.
extension IPEndpoint {
    init?(_ address: SocketAddress) {
        switch address.parts {
        case .ipv4(let value, let port):
            self.init(address: .v4(IPv4Address(value)), port: port)
        case .ipv6(let high, let low, let port):
            self.init(address: IPAddress.v6(IPv6Address(high: high, low: low)).unmapped, port: port)
        case .other:
            return nil
        }
    }

    var socketAddress: SocketAddress {
        switch address {
        case .v4(let v4): return SocketAddress(ipv4: v4.value, port: port)
        case .v6(let v6): return SocketAddress(ipv6: v6.high, v6.low, port: port)
        }
    }

    /// AF_INET or AF_INET6.
    var family: Int32 {
        if case .v4 = address { return AF_INET }
        return AF_INET6
    }
}
