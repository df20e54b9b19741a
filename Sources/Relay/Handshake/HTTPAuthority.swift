import ProxyProtocol

/// `host[:port]` as a request target carries it (RFC 9110 section 4.2, RFC 3986 section 3.2): a name, a
/// dotted quad, or an IPv6 address in brackets. No user info, no zone id, no empty port.
enum HTTPAuthority {
    /// The target written in `bytes[range]`; `defaultPort` nil when the port is required (CONNECT).
    static func parse(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, defaultPort: UInt16?)
        -> Result<RequestedTarget, HostName.Problem.Or>
    {
        guard !range.isEmpty else { return .failure(.other("empty authority")) }
        let host: RequestedHost
        var index: Int
        if bytes[range.lowerBound] == UInt8(ascii: "[") {
            var close = range.lowerBound + 1
            while close < range.upperBound, bytes[close] != UInt8(ascii: "]") { close += 1 }
            guard close < range.upperBound,
                let v6 = IPv6Address(
                    textBytes: UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<close]),
                    allowEmbeddedIPv4: true)
            else { return .failure(.other("malformed IPv6 literal")) }
            host = .address(.v6(v6))
            index = close + 1
        } else {
            index = range.lowerBound
            while index < range.upperBound, bytes[index] != UInt8(ascii: ":") { index += 1 }
            let text = UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound..<index])
            switch RequestedHost.fromText(text, offset: range.lowerBound, allowIPv6: false) {
            case .success(let parsed): host = parsed
            case .failure(let problem): return .failure(.host(problem))
            }
        }
        if index == range.upperBound {
            guard let defaultPort else { return .failure(.other("authority without a port")) }
            return .success(RequestedTarget(host: host, port: defaultPort))
        }
        guard bytes[index] == UInt8(ascii: ":") else { return .failure(.other("malformed authority")) }
        guard let port = parsePort(bytes, (index + 1)..<range.upperBound) else {
            return .failure(.other("port not in 1-65535"))
        }
        return .success(RequestedTarget(host: host, port: port))
    }

    /// 1 to 5 decimal digits making 1...65535.
    static func parsePort(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> UInt16? {
        guard (1...5).contains(range.count) else { return nil }
        var value = 0
        for index in range {
            let byte = bytes[index]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard (1...65535).contains(value) else { return nil }
        return UInt16(value)
    }
}

extension HostName.Problem {
    /// A host problem or another reason an authority is wrong.
    enum Or: Error, Equatable {
        case host(HostName.Problem)
        case other(String)

        var reason: String {
            switch self {
            case .host(let problem): return problem.reason
            case .other(let reason): return reason
            }
        }
    }
}
