/// The address block of a PROXY header.
public enum ProxyAddresses: Hashable, Sendable {
    /// No addresses: LOCAL, v1 UNKNOWN, or the v2 AF_UNSPEC family.
    case unspecified
    case ipv4(source: IPv4Address, destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16)
    case ipv6(source: IPv6Address, destination: IPv6Address, sourcePort: UInt16, destinationPort: UInt16)
    case unix(source: UnixSocketPath, destination: UnixSocketPath)

    /// The high nibble of the v2 family byte.
    @inlinable
    var v2FamilyNibble: UInt8 {
        switch self {
        case .unspecified: return 0x0
        case .ipv4: return 0x1
        case .ipv6: return 0x2
        case .unix: return 0x3
        }
    }

    /// The size of the v2 address block for this family.
    @inlinable
    var v2AddressLength: Int {
        switch self {
        case .unspecified: return 0
        case .ipv4: return V2Layout.ipv4AddressLength
        case .ipv6: return V2Layout.ipv6AddressLength
        case .unix: return V2Layout.unixAddressLength
        }
    }
}
