/// The responses an HTTP proxy front end sends itself (the rest come from the origin, through the tunnel).
@_spi(Fuzzing) public enum HTTPProxyStatus: UInt16, Equatable, Sendable, CaseIterable {
    /// The answer to a CONNECT whose tunnel is up.
    case connectionEstablished = 200
    case badRequest = 400
    case forbidden = 403
    case methodNotAllowed = 405
    case proxyAuthenticationRequired = 407
    /// The client did not finish its request within the handshake timeout.
    case requestTimeout = 408
    /// The request head does not fit in the connection's request buffer.
    case headersTooLarge = 431
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    /// The whole response. A 200 to CONNECT has no body headers: the bytes after it belong to the tunnel
    /// (RFC 9110 section 9.3.6). Every error closes the connection and says so, with an empty body so that
    /// nothing but the status reaches a client that asked through us.
    var response: StaticString {
        switch self {
        case .connectionEstablished:
            return "HTTP/1.1 200 Connection established\r\n\r\n"
        case .badRequest:
            return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .forbidden:
            return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .methodNotAllowed:
            return "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .proxyAuthenticationRequired:
            return """
                HTTP/1.1 407 Proxy Authentication Required\r
                Proxy-Authenticate: Basic realm="ringway"\r
                Content-Length: 0\r
                Connection: close\r
                \r

                """
        case .requestTimeout:
            return "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .headersTooLarge:
            return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .badGateway:
            return "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .serviceUnavailable:
            return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        case .gatewayTimeout:
            return "HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
    }

    /// Writes the response; its length, or nil when `out` is too small (the longest is under 160 bytes).
    @_spi(Fuzzing) public func write(into out: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ByteWriter(out)
        writer.ascii(response)
        return writer.length
    }
}
