import ProxyProtocol

/// Where a client asked a proxy to connect to, as a handshake carries it.
///
/// A name is kept as a byte range of the input rather than a String, so that parsing a request allocates
/// nothing; the caller copies it out once, when it resolves the name.
@_spi(Fuzzing) public struct RequestedTarget: Equatable, Sendable {
    @_spi(Fuzzing) public var host: RequestedHost
    @_spi(Fuzzing) public var port: UInt16

    @_spi(Fuzzing) public init(host: RequestedHost, port: UInt16) {
        self.host = host
        self.port = port
    }
}

@_spi(Fuzzing) public enum RequestedHost: Equatable, Sendable {
    /// An address, including a name field that held an IP literal (`127.0.0.1` as a SOCKS5 domain).
    case address(IPAddress)
    /// A domain name that passed `HostName.check`: bytes `start..<start + count` of the parsed input.
    case name(start: Int, count: Int)
}

extension RequestedHost {
    /// The host a name field or an authority's host holds: an IP literal becomes `.address`, anything else
    /// must be a valid domain name. `offset` is where `text` starts in the parsed input. An unbracketed IPv6
    /// literal is accepted only where the field cannot also hold a port (`allowIPv6`: SOCKS name fields).
    ///
    /// Bytes no host may hold are looked for first, so that the answer on a whole field is the one
    /// `prefixProblem` gave while it was arriving.
    static func fromText(
        _ text: UnsafeRawBufferPointer,
        offset: Int,
        allowIPv6: Bool
    ) -> Result<RequestedHost, HostName.Problem> {
        if let problem = prefixProblem(text, allowIPv6: allowIPv6) { return .failure(problem) }
        if let v4 = IPv4Address(textBytes: text) { return .success(.address(.v4(v4))) }
        if allowIPv6, text.contains(UInt8(ascii: ":")) {
            guard let v6 = IPv6Address(textBytes: text, allowEmbeddedIPv4: true) else { return .failure(.badIPv6) }
            return .success(.address(.v6(v6)))
        }
        if let problem = HostName.check(text) { return .failure(problem) }
        return .success(.name(start: offset, count: text.count))
    }

    /// What already rules out a host field of which `text` is the start: a byte no host may hold.
    static func prefixProblem(_ text: UnsafeRawBufferPointer, allowIPv6: Bool) -> HostName.Problem? {
        HostName.firstBadByte(text, allowColon: allowIPv6) == nil ? nil : .badByte
    }
}
