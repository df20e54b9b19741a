/// The PROXY protocol version: the text line (v1) or the binary header (v2).
public enum ProxyProtocolVersion: UInt8, Sendable, CaseIterable {
    case v1 = 1
    case v2 = 2
}

/// What the sender says about the connection (the low nibble of a v2 header's 13th byte).
///
/// A v1 `PROXY UNKNOWN` line parses as `.local`: both tell the receiver to use the real socket
/// endpoints, and a v1 line has no command field of its own.
public enum ProxyCommand: UInt8, Sendable, CaseIterable {
    /// The proxy opened the connection on its own behalf (health checks): use the real endpoints.
    case local = 0
    /// The connection is relayed: the header's addresses are the original endpoints.
    case proxy = 1
}

/// The relayed socket type (the low nibble of a v2 header's 14th byte). A v1 line is always `.stream`
/// (TCP4/TCP6) or `.unspecified` (UNKNOWN).
public enum ProxyTransport: UInt8, Sendable, CaseIterable {
    case unspecified = 0
    case stream = 1
    case datagram = 2
}
