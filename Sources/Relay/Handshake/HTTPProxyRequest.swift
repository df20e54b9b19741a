/// An HTTP/1.x request to Ringway as a forward proxy (RFC 9112, RFC 9110 section 9.3.6): a CONNECT in
/// authority form, or any other method in absolute form with an `http` URI.
///
/// Only the head is read: after it the connection becomes a tunnel, so bodies are not parsed, only
/// reported. Every range is of the parsed input.
@_spi(Fuzzing) public struct HTTPProxyRequest: Equatable, Sendable {
    @_spi(Fuzzing) public var method: Range<Int>
    @_spi(Fuzzing) public var isConnect: Bool
    @_spi(Fuzzing) public var target: RequestedTarget
    /// Absolute form: what follows the authority in the target (path and query, possibly empty, which
    /// stands for `/`). CONNECT: empty.
    @_spi(Fuzzing) public var pathAndQuery: Range<Int>
    /// The minor version: 0 or 1.
    @_spi(Fuzzing) public var minorVersion: UInt8
    /// The request line with its CRLF.
    @_spi(Fuzzing) public var requestLineLength: Int
    /// Up to and including the blank line.
    @_spi(Fuzzing) public var headLength: Int
    /// The value of `Proxy-Authorization`, without surrounding whitespace.
    @_spi(Fuzzing) public var proxyAuthorization: Range<Int>?
    @_spi(Fuzzing) public var hasHost: Bool
    @_spi(Fuzzing) public var hasContentLength: Bool
    @_spi(Fuzzing) public var hasTransferEncoding: Bool

    /// More header lines than any browser or curl sends; the bound keeps the scan short.
    @_spi(Fuzzing) public static let maximumHeaderLines = 100

    /// Reads the head at the start of `bytes`, of at most `maximumHeadLength` bytes. Every invalid request is
    /// answered `400 Bad Request`.
    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer, maximumHeadLength: Int)
        -> HandshakeParse<Self, HTTPProxyStatus>
    {
        let limit = min(bytes.count, max(maximumHeadLength, 0))
        // Out of bytes before the head ended: wait, unless the limit is what stopped us.
        let stopped: HandshakeParse<Self, HTTPProxyStatus> =
            bytes.count >= maximumHeadLength
            ? .invalid(reason: "request head longer than the limit", reply: .badRequest) : .incomplete
        func invalid(_ reason: String) -> HandshakeParse<Self, HTTPProxyStatus> {
            .invalid(reason: reason, reply: .badRequest)
        }

        // method SP
        var index = 0
        while index < limit, HTTPHeadScanner.isTokenByte(bytes[index]) { index += 1 }
        guard index < limit else { return stopped }
        guard bytes[index] == HTTPHeadScanner.space, index > 0 else { return invalid("malformed method") }
        let method = 0..<index
        // Methods are case-sensitive (RFC 9110 section 9.1): "connect" is some other method.
        let isConnect = HTTPHeadScanner.equals(bytes, method, "CONNECT")
        index += 1

        // request-target SP
        let targetStart = index
        while index < limit, bytes[index] > HTTPHeadScanner.space, bytes[index] < 0x7F { index += 1 }
        if index < limit, bytes[index] != HTTPHeadScanner.space {
            return invalid("control byte, space or non-ASCII byte in the request target")
        }
        if index > targetStart, let problem = targetPrefixProblem(bytes, targetStart..<index, isConnect: isConnect) {
            return invalid(problem)
        }
        guard index < limit else { return stopped }
        guard index > targetStart else { return invalid("empty request target") }
        let targetRange = targetStart..<index
        let target: RequestedTarget
        let pathAndQuery: Range<Int>
        switch parseTarget(bytes, targetRange, isConnect: isConnect) {
        case .failure(let problem): return invalid(problem.reason)
        case .success(let parsed): (target, pathAndQuery) = parsed
        }
        index += 1

        // HTTP-version CRLF
        guard let minor = HTTPHeadScanner.version(bytes, at: index, limit: limit) else { return stopped }
        guard minor >= 0 else { return invalid("not HTTP/1.0 or HTTP/1.1") }
        index += 8
        switch HTTPHeadScanner.lineEnd(bytes, at: index, limit: limit) {
        case .failure: return invalid("malformed request line")
        case .success(nil): return stopped
        case .success(let next?): index = next
        }
        var request = HTTPProxyRequest(
            method: method, isConnect: isConnect, target: target, pathAndQuery: pathAndQuery,
            minorVersion: UInt8(minor), requestLineLength: index, headLength: 0, proxyAuthorization: nil,
            hasHost: false, hasContentLength: false, hasTransferEncoding: false)

        var lines = 0
        while true {
            switch HTTPHeadScanner.headerLine(bytes, at: index, limit: limit) {
            case .incomplete:
                // A 101st line is refused as soon as it starts, not when it ends.
                if lines == maximumHeaderLines, index < limit, bytes[index] != HTTPHeadScanner.cr {
                    return invalid("more than 100 header lines")
                }
                return stopped
            case .invalid(let reason):
                return invalid(reason)
            case .end(let next):
                request.headLength = next
                return .complete(request, consumed: next)
            case .field(let name, let value, let next):
                guard lines < maximumHeaderLines else { return invalid("more than 100 header lines") }
                lines += 1
                if HTTPHeadScanner.equalsIgnoringCase(bytes, name, "proxy-authorization") {
                    guard request.proxyAuthorization == nil else { return invalid("two Proxy-Authorization fields") }
                    request.proxyAuthorization = value
                } else if HTTPHeadScanner.equalsIgnoringCase(bytes, name, "host") {
                    // RFC 9112 section 3.2: more than one Host is answered 400.
                    guard !request.hasHost else { return invalid("two Host fields") }
                    request.hasHost = true
                } else if HTTPHeadScanner.equalsIgnoringCase(bytes, name, "content-length") {
                    request.hasContentLength = true
                } else if HTTPHeadScanner.equalsIgnoringCase(bytes, name, "transfer-encoding") {
                    request.hasTransferEncoding = true
                }
                index = next
            }
        }
    }

    /// What rules out a target of which `range` holds the start, before it ends: an origin-form or `https`
    /// target is refused at its first bytes.
    private static func targetPrefixProblem(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, isConnect: Bool)
        -> String?
    {
        guard !isConnect else { return nil }
        let first = bytes[range.lowerBound]
        if first == UInt8(ascii: "/") { return "origin-form request target sent to a proxy" }
        if first == UInt8(ascii: "*") { return "asterisk-form request target sent to a proxy" }
        return nil
    }

    /// Authority form for CONNECT; absolute form with an `http` URI for the rest.
    private static func parseTarget(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, isConnect: Bool)
        -> Result<(RequestedTarget, Range<Int>), HostName.Problem.Or>
    {
        if isConnect {
            return HTTPAuthority.parse(bytes, range, defaultPort: nil).map { ($0, range.upperBound..<range.upperBound) }
        }
        if HTTPHeadScanner.hasPrefixIgnoringCase(bytes, range, "https://") {
            return .failure(.other("https absolute-form request target; use CONNECT"))
        }
        guard HTTPHeadScanner.hasPrefixIgnoringCase(bytes, range, "http://") else {
            return .failure(.other("request target is not an absolute http URI"))
        }
        let authorityStart = range.lowerBound + 7
        var authorityEnd = authorityStart
        while authorityEnd < range.upperBound, bytes[authorityEnd] != UInt8(ascii: "/"),
            bytes[authorityEnd] != UInt8(ascii: "?")
        {
            if bytes[authorityEnd] == UInt8(ascii: "@") { return .failure(.other("user info in the request target")) }
            authorityEnd += 1
        }
        for index in authorityEnd..<range.upperBound where bytes[index] == UInt8(ascii: "#") {
            return .failure(.other("fragment in the request target"))
        }
        return HTTPAuthority.parse(bytes, authorityStart..<authorityEnd, defaultPort: 80)
            .map { ($0, authorityEnd..<range.upperBound) }
    }
}
