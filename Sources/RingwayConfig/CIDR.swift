import ProxyProtocol

/// An address range (`10.0.0.0/8`, `fd00::/8`). IPv4 ranges also match v4-mapped IPv6 addresses,
/// so a dual-stack listener's `::ffff:10.0.0.1` peer is inside `10.0.0.0/8`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    /// Masks host bits off `address`; nil when the prefix is longer than the family allows.
    public init?(address: IPAddress, prefixLength: Int) {
        switch address {
        case .v4(let a):
            guard (0...32).contains(prefixLength) else { return nil }
            self.network = .v4(IPv4Address(a.value & CIDR.mask32(prefixLength)))
        case .v6(let a):
            guard (0...128).contains(prefixLength) else { return nil }
            let (highMask, lowMask) = CIDR.mask128(prefixLength)
            self.network = .v6(IPv6Address(high: a.high & highMask, low: a.low & lowMask))
        }
        self.prefixLength = prefixLength
    }

    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a single-host range). Same rules as
    /// `CIDR.parse(_:)`, which says why text is refused.
    public init?(_ text: some StringProtocol) {
        guard let parsed = try? CIDR.parse(text) else { return nil }
        self = parsed
    }

    public func contains(_ address: IPAddress) -> Bool {
        switch (network, address.unmapped) {
        case (.v4(let net), .v4(let a)):
            return a.value & CIDR.mask32(prefixLength) == net.value
        case (.v6(let net), .v6(let a)):
            let (highMask, lowMask) = CIDR.mask128(prefixLength)
            return a.high & highMask == net.high && a.low & lowMask == net.low
        case (.v6(let net), .v4(let a)):
            // An IPv6 range written over the v4-mapped space still covers plain IPv4 peers.
            let mapped = IPv6Address(v4Mapped: a)
            let (highMask, lowMask) = CIDR.mask128(prefixLength)
            return mapped.high & highMask == net.high && mapped.low & lowMask == net.low
        case (.v4, .v6):
            return false
        }
    }

    public var description: String { "\(network)/\(prefixLength)" }

    private static func mask32(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    private static func mask128(_ length: Int) -> (UInt64, UInt64) {
        if length == 0 { return (0, 0) }
        if length <= 64 { return (UInt64.max << UInt64(64 - length), 0) }
        return (UInt64.max, length == 128 ? UInt64.max : UInt64.max << UInt64(128 - length))
    }
}
