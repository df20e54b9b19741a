extension HTTPProxyRequest {
    /// The request to send to the origin for an absolute-form request: the request line in origin form
    /// (`GET /path?query HTTP/1.1`), a `Host` line naming the request target's authority (with the port
    /// unless it is 80) in place of the client's own (RFC 9112 section 3.2.2: the origin must not be told
    /// a host other than the one connected to), every other header line except the `Proxy-*` ones (they
    /// were meant for us, and `Proxy-Authorization` carries the client's proxy password), and the blank
    /// line. `head` is the input this request was parsed
    /// from. Returns the length, or nil for CONNECT, for a `head` the ranges do not fit, or when `out` is too
    /// small.
    @_spi(Fuzzing) public func writeOriginForm(head: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        guard !isConnect, headLength >= requestLineLength + 2, headLength <= head.count,
            method.lowerBound >= 0, method.upperBound <= requestLineLength,
            pathAndQuery.lowerBound >= 0, pathAndQuery.upperBound <= requestLineLength
        else { return nil }
        var writer = ByteWriter(out)
        writer.bytes(UnsafeRawBufferPointer(rebasing: head[method]))
        writer.byte(HTTPHeadScanner.space)
        if pathAndQuery.isEmpty || head[pathAndQuery.lowerBound] != UInt8(ascii: "/") {
            writer.byte(UInt8(ascii: "/"))
        }
        writer.bytes(UnsafeRawBufferPointer(rebasing: head[pathAndQuery]))
        writer.ascii(minorVersion == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n")
        writer.ascii("Host: ")
        writer.authority(target.host, port: target.port == 80 ? nil : target.port, names: head)
        writer.ascii("\r\n")

        // The header lines, as parsed: each ends at the first CRLF after its start.
        let fieldsEnd = headLength - 2
        var lineStart = requestLineLength
        while lineStart < fieldsEnd {
            var lineEnd = lineStart
            while lineEnd + 1 < fieldsEnd, !(head[lineEnd] == HTTPHeadScanner.cr && head[lineEnd + 1] == HTTPHeadScanner.lf) {
                lineEnd += 1
            }
            if lineEnd + 1 >= fieldsEnd { lineEnd = fieldsEnd }
            if !HTTPHeadScanner.hasPrefixIgnoringCase(head, lineStart..<lineEnd, "proxy-"),
                !HTTPHeadScanner.hasPrefixIgnoringCase(head, lineStart..<lineEnd, "host:")
            {
                writer.bytes(UnsafeRawBufferPointer(rebasing: head[lineStart..<min(lineEnd + 2, headLength)]))
            }
            lineStart = lineEnd + 2
        }
        writer.ascii("\r\n")
        return writer.length
    }
}
