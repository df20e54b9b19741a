#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Socket addresses from the C resolvers (`getaddrinfo`, c-ares): one conversion for the
/// configuration's start-up resolution and the workers' resolver.
extension IPAddress {
    /// The address of an `AF_INET`/`AF_INET6` socket address; nil for other families.
    public init?(socketAddress: UnsafeMutablePointer<sockaddr>?) {
        guard let socketAddress else { return nil }
        switch Int32(socketAddress.pointee.sa_family) {
        case AF_INET:
            let v4 = UnsafeRawPointer(socketAddress).loadUnaligned(as: sockaddr_in.self)
            self = .v4(IPv4Address(UInt32(bigEndian: v4.sin_addr.s_addr)))
        case AF_INET6:
            let v6 = UnsafeRawPointer(socketAddress).loadUnaligned(as: sockaddr_in6.self)
            var bytes = v6.sin6_addr
            let (high, low) = withUnsafeBytes(of: &bytes) { raw in
                raw.withMemoryRebound(to: UInt8.self) { octets in
                    (
                        octets[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) },
                        octets[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    )
                }
            }
            self = .v6(IPv6Address(high: high, low: low))
        default:
            return nil
        }
    }
}
