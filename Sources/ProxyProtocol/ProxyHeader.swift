/// A decoded PROXY header, v1 or v2, or one to be encoded.
///
/// Headers the detector returns are normalized, so that encoding one and parsing it again gives
/// an equal value:
/// - v1 `TCP4`/`TCP6`: command `.proxy`, transport `.stream`, `.ipv4`/`.ipv6` addresses, no TLVs.
/// - v1 `UNKNOWN` and v2 LOCAL: command `.local`, transport `.unspecified`, `.unspecified`
///   addresses, no TLVs (whatever the LOCAL block held is skipped).
/// - v2 PROXY with the AF_UNSPEC byte (0x00): command `.proxy`, transport `.unspecified`,
///   `.unspecified` addresses, no TLVs. Without a family the block has no defined address size,
///   so where TLVs would start is unknown; the spec says to ignore the block.
public struct ProxyHeader: Hashable, Sendable {
    public var version: ProxyProtocolVersion
    public var command: ProxyCommand
    public var transport: ProxyTransport
    public var addresses: ProxyAddresses
    /// v2 only, in wire order; the CRC32C TLV is included as received. The v1 encoder ignores them.
    public var tlvs: [ProxyTLV]

    @inlinable
    public init(
        version: ProxyProtocolVersion,
        command: ProxyCommand,
        transport: ProxyTransport,
        addresses: ProxyAddresses,
        tlvs: [ProxyTLV] = []
    ) {
        self.version = version
        self.command = command
        self.transport = transport
        self.addresses = addresses
        self.tlvs = tlvs
    }

    /// Builds a PROXY (command `.proxy`, transport `.stream`) header for a TCP connection. When the two
    /// families differ, both are encoded as IPv6 with the IPv4 side v4-mapped; when both are
    /// v4-mapped IPv6 (or IPv4), both are unmapped to IPv4. Never a mixed-family header.
    public static func tcp(
        source: IPEndpoint,
        destination: IPEndpoint,
        version: ProxyProtocolVersion,
        tlvs: [ProxyTLV] = []
    ) -> ProxyHeader {
        let addresses: ProxyAddresses
        switch (source.address.unmapped, destination.address.unmapped) {
        case (.v4(let from), .v4(let to)):
            addresses = .ipv4(source: from, destination: to, sourcePort: source.port, destinationPort: destination.port)
        case (let from, let to):
            addresses = .ipv6(
                source: from.asIPv6, destination: to.asIPv6, sourcePort: source.port,
                destinationPort: destination.port)
        }
        return ProxyHeader(version: version, command: .proxy, transport: .stream, addresses: addresses, tlvs: tlvs)
    }

    /// A header that tells the receiver to use the real connection endpoints: LOCAL in v2,
    /// `PROXY UNKNOWN` in v1.
    public static func local(version: ProxyProtocolVersion) -> ProxyHeader {
        ProxyHeader(version: version, command: .local, transport: .unspecified, addresses: .unspecified)
    }

    /// The original client: nil for LOCAL, v1 UNKNOWN, AF_UNSPEC and AF_UNIX. A v4-mapped IPv6
    /// source stays IPv6 here; `address.unmapped` gives the IPv4 address.
    public var source: IPEndpoint? {
        guard command == .proxy else { return nil }
        switch addresses {
        case .ipv4(let address, _, let port, _): return IPEndpoint(address: .v4(address), port: port)
        case .ipv6(let address, _, let port, _): return IPEndpoint(address: .v6(address), port: port)
        case .unspecified, .unix: return nil
        }
    }

    /// The address the client connected to, under the same rules as `source`.
    public var destination: IPEndpoint? {
        guard command == .proxy else { return nil }
        switch addresses {
        case .ipv4(_, let address, _, let port): return IPEndpoint(address: .v4(address), port: port)
        case .ipv6(_, let address, _, let port): return IPEndpoint(address: .v6(address), port: port)
        case .unspecified, .unix: return nil
        }
    }
}

extension IPAddress {
    /// IPv6 as is, IPv4 v4-mapped.
    fileprivate var asIPv6: IPv6Address {
        switch self {
        case .v4(let address): return IPv6Address(v4Mapped: address)
        case .v6(let address): return address
        }
    }
}
