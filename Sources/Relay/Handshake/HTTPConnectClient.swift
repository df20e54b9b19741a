/// Ringway's side of an HTTP proxy hop (`-F http://`): the CONNECT it writes and the response it reads.
@_spi(Fuzzing) public enum HTTPConnectClient {
    /// `CONNECT host:port HTTP/1.1`, `Host: host:port`, `Proxy-Connection: keep-alive`, with
    /// `Proxy-Authorization: Basic ...` when credentials are given, and the blank line. IPv6 in brackets;
    /// a name is copied from `names`. Returns the length, or nil when `out` is too small or the name lies
    /// outside `names`.
    @_spi(Fuzzing) public static func writeConnect(
        to target: RequestedTarget,
        names: UnsafeRawBufferPointer,
        credentials: ProxyCredentials?,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var writer = ByteWriter(out)
        writer.ascii("CONNECT ")
        writer.authority(target.host, port: target.port, names: names)
        writer.ascii(" HTTP/1.1\r\nHost: ")
        writer.authority(target.host, port: target.port, names: names)
        writer.ascii("\r\nProxy-Connection: keep-alive\r\n")
        if let credentials {
            writer.ascii("Proxy-Authorization: Basic ")
            var encoder = Base64.Encoder()
            credentials.user.withUnsafeBytes { encoder.append($0, to: &writer) }
            encoder.append(UInt8(ascii: ":"), to: &writer)
            credentials.password.withUnsafeBytes { encoder.append($0, to: &writer) }
            encoder.finish(to: &writer)
            writer.ascii("\r\n")
        }
        writer.ascii("\r\n")
        return writer.length
    }

    @_spi(Fuzzing) public struct Response: Equatable, Sendable {
        @_spi(Fuzzing) public var statusCode: Int
        /// Up to and including the blank line; what follows is the tunnel's.
        @_spi(Fuzzing) public var headLength: Int
        @_spi(Fuzzing) public var succeeded: Bool { (200..<300).contains(statusCode) }

        @_spi(Fuzzing) public init(statusCode: Int, headLength: Int) {
            self.statusCode = statusCode
            self.headLength = headLength
        }
    }

    /// The proxy's response head: `HTTP/1.x SP 3DIGIT [SP reason]`, header lines, blank line, at most
    /// `maximumHeadLength` bytes and 100 header lines. Complete for any status; the caller looks at it. A
    /// status line without the space and reason is accepted: some proxies send `HTTP/1.1 200` alone.
    @_spi(Fuzzing) public static func parseResponse(_ bytes: UnsafeRawBufferPointer, maximumHeadLength: Int)
        -> HandshakeParse<Response, NoReply>
    {
        let limit = min(bytes.count, max(maximumHeadLength, 0))
        let stopped: HandshakeParse<Response, NoReply> =
            bytes.count >= maximumHeadLength
            ? .invalid(reason: "proxy response head longer than the limit", reply: NoReply()) : .incomplete
        func invalid(_ reason: String) -> HandshakeParse<Response, NoReply> { .invalid(reason: reason, reply: NoReply()) }

        guard let minor = HTTPHeadScanner.version(bytes, at: 0, limit: limit) else { return stopped }
        guard minor >= 0 else { return invalid("proxy does not answer HTTP/1.0 or HTTP/1.1") }
        var index = 8
        guard index < limit else { return stopped }
        guard bytes[index] == HTTPHeadScanner.space else { return invalid("malformed status line") }
        index += 1
        var statusCode = 0
        for _ in 0..<3 {
            guard index < limit else { return stopped }
            let byte = bytes[index]
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return invalid("malformed status code") }
            statusCode = statusCode * 10 + Int(byte - UInt8(ascii: "0"))
            index += 1
        }
        guard statusCode >= 100 else { return invalid("malformed status code") }
        guard index < limit else { return stopped }
        if bytes[index] == HTTPHeadScanner.space {
            index += 1
            while index < limit, bytes[index] != HTTPHeadScanner.cr {
                guard HTTPHeadScanner.isFieldByte(bytes[index]) else { return invalid("control byte in the reason") }
                index += 1
            }
        }
        switch HTTPHeadScanner.lineEnd(bytes, at: index, limit: limit) {
        case .failure: return invalid("malformed status line")
        case .success(nil): return stopped
        case .success(let next?): index = next
        }
        var lines = 0
        while true {
            switch HTTPHeadScanner.headerLine(bytes, at: index, limit: limit) {
            case .incomplete:
                if lines == HTTPProxyRequest.maximumHeaderLines, index < limit, bytes[index] != HTTPHeadScanner.cr {
                    return invalid("more than 100 header lines")
                }
                return stopped
            case .invalid(let reason):
                return invalid(reason)
            case .end(let next):
                return .complete(Response(statusCode: statusCode, headLength: next), consumed: next)
            case .field(_, _, let next):
                guard lines < HTTPProxyRequest.maximumHeaderLines else { return invalid("more than 100 header lines") }
                lines += 1
                index = next
            }
        }
    }
}
