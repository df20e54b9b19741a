/// What the bytes received so far on a connection say about a PROXY header.
public enum ProxyDetection: Hashable, Sendable {
    /// A header may still follow: call again with more bytes.
    case needMore
    /// A complete, valid header occupying the first `consumed` bytes; what follows is payload.
    case header(ProxyHeader, consumed: Int)
    /// The bytes cannot begin a PROXY header (decided at the first byte that differs from both
    /// signatures).
    case notProxy
    /// The bytes begin a PROXY header that is malformed.
    case invalid(ProxyProtocolError)
}
