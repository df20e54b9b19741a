import ProxyProtocol

/// Text that is not a CIDR range, and why.
public struct CIDRSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The part before `/` is not an IPv4 or IPv6 address (brackets and zone ids are not allowed).
        case badAddress
        /// `10.0.0.0/`: a slash with nothing after it.
        case missingPrefixLength
        /// Not a plain decimal: signs, spaces, leading zeros (`/08`) are refused.
        case badPrefixLength
        /// `/33` for IPv4, `/129` for IPv6.
        case prefixLengthOutOfRange(maximum: Int)
    }

    public var text: String
    public var reason: Reason

    public init(text: String, reason: Reason) {
        self.text = text
        self.reason = reason
    }

    public var description: String {
        let why: String
        switch reason {
        case .badAddress: why = "the address is not IPv4 or IPv6"
        case .missingPrefixLength: why = "the prefix length after '/' is missing"
        case .badPrefixLength: why = "the prefix length is not a decimal number without leading zeros"
        case .prefixLengthOutOfRange(let maximum): why = "the prefix length is out of range 0-\(maximum)"
        }
        return "\"\(text)\" is not a CIDR (\(why)); use e.g. 10.0.0.0/8, fd00::/8 or a single address"
    }
}

extension CIDR {
    /// `a.b.c.d/n`, `x::y/n`, or a bare address (a single-host range). Host bits under the prefix
    /// are cleared (`10.1.2.3/8` is `10.0.0.0/8`), as Go's `net.ParseCIDR` does for GOST.
    public static func parse(_ text: some StringProtocol) throws(CIDRSyntaxError) -> CIDR {
        let string = String(text)
        func failure(_ reason: CIDRSyntaxError.Reason) -> CIDRSyntaxError {
            CIDRSyntaxError(text: string, reason: reason)
        }
        let parts = string.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { throw failure(.badAddress) }
        let maximum = address.isIPv4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty else { throw failure(.missingPrefixLength) }
            guard digits.count <= 3, digits.allSatisfy({ ("0"..."9").contains($0) }),
                digits == "0" || digits.first != "0", let parsed = Int(digits)
            else { throw failure(.badPrefixLength) }
            length = parsed
        }
        guard let range = CIDR(address: address, prefixLength: length) else {
            throw failure(.prefixLengthOutOfRange(maximum: maximum))
        }
        return range
    }

    /// A comma-separated list (`10.0.0.0/8,fd00::/8`), as `trustedProxies` takes it.
    static func parseList(_ text: some StringProtocol) throws(CIDRSyntaxError) -> [CIDR] {
        var ranges: [CIDR] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            ranges.append(try CIDR.parse(item))
        }
        return ranges
    }
}
