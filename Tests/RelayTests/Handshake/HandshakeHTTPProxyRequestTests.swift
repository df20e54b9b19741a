@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

@Suite("Handshake: HTTP proxy requests")
struct HandshakeHTTPProxyRequestTests {
    func parse(_ text: String, limit: Int = 4096) -> HandshakeParse<HTTPProxyRequest, HTTPProxyStatus> {
        parsed(bytes(text)) { HTTPProxyRequest.parse($0, maximumHeadLength: limit) }
    }

    func originForm(_ text: String, capacity: Int = 4096) -> String? {
        let input = bytes(text)
        guard let request = value(parse(text)) else { return nil }
        let out = input.withUnsafeBytes { head in written(capacity: capacity) { request.writeOriginForm(head: head, into: $0) } }
        return out.map { String(decoding: $0, as: UTF8.self) }
    }

    let curlConnectText = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nUser-Agent: curl/7.88.1\r\n"
        + "Proxy-Connection: Keep-Alive\r\n\r\n"

    @Test func curlConnect() {
        let input = bytes(curlConnectText)
        let result = parse(curlConnectText + "\u{16}\u{03}\u{01}")
        guard case .complete(let request, let consumed) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(consumed == input.count && request.headLength == input.count)
        #expect(request.isConnect && request.method == 0..<7 && request.minorVersion == 1)
        #expect(request.target.port == 443 && nameText(request.target.host, in: input) == "example.com")
        #expect(request.hasHost && request.proxyAuthorization == nil)
        #expect(!request.hasContentLength && !request.hasTransferEncoding)
        #expect(request.requestLineLength == 34)
        expectIncompleteAtEveryCut(input) { HTTPProxyRequest.parse($0, maximumHeadLength: 4096) }
        // CONNECT has no origin form.
        #expect(originForm(curlConnectText) == nil)
    }

    @Test func curlAbsoluteForm() {
        let text = "GET http://127.0.0.1:8080/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\n"
            + "Accept: */*\r\nProxy-Connection: Keep-Alive\r\nProxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
        let input = bytes(text)
        guard let request = value(parse(text)) else {
            Issue.record("\(parse(text))")
            return
        }
        #expect(!request.isConnect && request.target == RequestedTarget(host: ipv4("127.0.0.1"), port: 8080))
        #expect(String(decoding: input[request.pathAndQuery], as: UTF8.self) == "/x")
        #expect(request.proxyAuthorization.map { String(decoding: input[$0], as: UTF8.self) } == "Basic dXNlcjpwYXNz")
        #expect(originForm(text) == "GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
        expectIncompleteAtEveryCut(input) { HTTPProxyRequest.parse($0, maximumHeadLength: 4096) }
    }

    @Test func originFormAddsHostAndDropsEveryProxyField() {
        #expect(originForm("GET http://Example.com HTTP/1.0\r\nproxy-foo: 1\r\nX: y\r\n\r\n")
            == "GET / HTTP/1.0\r\nHost: Example.com\r\nX: y\r\n\r\n")
        #expect(originForm("POST http://a.example:81?q=1 HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            == "POST /?q=1 HTTP/1.1\r\nHost: a.example:81\r\nContent-Length: 0\r\n\r\n")
        #expect(originForm("GET http://[2001:db8::1]/p HTTP/1.1\r\n\r\n") == "GET /p HTTP/1.1\r\nHost: [2001:db8::1]\r\n\r\n")
        #expect(originForm("GET http://a/p HTTP/1.1\r\n\r\n", capacity: 20) == nil)
    }

    /// RFC 9112 section 3.2.2: the Host the origin sees is the request target's, whatever the
    /// client wrote (found by an attack run: `Host: evil.example` reached 127.0.0.1 unchanged).
    @Test func originFormReplacesTheClientsHost() {
        #expect(originForm("GET http://127.0.0.1:8080/ HTTP/1.1\r\nHost: evil.example\r\nX: 1\r\n\r\n")
            == "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX: 1\r\n\r\n")
        #expect(originForm("GET http://a.example/ HTTP/1.1\r\nhOST:a.example\r\nHostname: x\r\n\r\n")
            == "GET / HTTP/1.1\r\nHost: a.example\r\nHostname: x\r\n\r\n")
    }

    @Test func targets() {
        #expect(value(parse("CONNECT [::1]:443 HTTP/1.1\r\n\r\n"))?.target == RequestedTarget(host: ipv6("::1"), port: 443))
        #expect(value(parse("CONNECT 10.0.0.1:22 HTTP/1.0\r\n\r\n"))?.target == RequestedTarget(host: ipv4("10.0.0.1"), port: 22))
        #expect(value(parse("GET http://a.example/ HTTP/1.1\r\n\r\n"))?.target.port == 80)
        #expect(value(parse("GET HTTP://a.example:8080/ HTTP/1.1\r\n\r\n"))?.target.port == 8080)
        let request = parse("PUT http://[::ffff:10.0.0.1]:9/x?y HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(value(request)?.target == RequestedTarget(host: ipv6("::ffff:10.0.0.1"), port: 9))
        #expect(value(request)?.hasContentLength == true && value(request)?.hasTransferEncoding == true)
    }

    @Test(arguments: [
        ("GET /x HTTP/1.1\r\n\r\n", "origin-form request target sent to a proxy"),
        ("GET /", "origin-form request target sent to a proxy"),
        ("OPTIONS * HTTP/1.1\r\n\r\n", "asterisk-form request target sent to a proxy"),
        ("GET https://a.example/ HTTP/1.1\r\n\r\n", "https absolute-form request target; use CONNECT"),
        ("GET ftp://a.example/ HTTP/1.1\r\n\r\n", "request target is not an absolute http URI"),
        ("GET http://u:p@a.example/ HTTP/1.1\r\n\r\n", "user info in the request target"),
        ("GET http://a.example/#f HTTP/1.1\r\n\r\n", "fragment in the request target"),
        ("GET http:///x HTTP/1.1\r\n\r\n", "empty authority"),
        ("GET http://a.example:/ HTTP/1.1\r\n\r\n", "port not in 1-65535"),
        ("CONNECT example.com HTTP/1.1\r\n\r\n", "authority without a port"),
        ("CONNECT example.com:0 HTTP/1.1\r\n\r\n", "port not in 1-65535"),
        ("CONNECT example.com:65536 HTTP/1.1\r\n\r\n", "port not in 1-65535"),
        ("CONNECT example.com:44x HTTP/1.1\r\n\r\n", "port not in 1-65535"),
        ("CONNECT ::1:443 HTTP/1.1\r\n\r\n", "empty host name"),
        ("CONNECT [::1]443 HTTP/1.1\r\n\r\n", "malformed authority"),
        ("CONNECT [::g]:443 HTTP/1.1\r\n\r\n", "malformed IPv6 literal"),
        ("CONNECT a%2eb:443 HTTP/1.1\r\n\r\n", "host name with a byte other than letters, digits, '-', '_' and '.'"),
        ("CONNECT 127.1:443 HTTP/1.1\r\n\r\n", "numeric host name that is not an IP address"),
        ("CONNECT a..b:443 HTTP/1.1\r\n\r\n", "host name with an empty label"),
        ("GET  http://a/ HTTP/1.1\r\n\r\n", "empty request target"),
        (" GET", "malformed method"),
        ("G(T http://a/ HTTP/1.1\r\n\r\n", "malformed method"),
        ("GET http://a/\u{01}", "control byte, space or non-ASCII byte in the request target"),
        ("GET http://a/é HTTP/1.1\r\n\r\n", "control byte, space or non-ASCII byte in the request target"),
        ("GET http://a/ HTTP/2.0\r\n\r\n", "not HTTP/1.0 or HTTP/1.1"),
        ("GET http://a/ http/1.1\r\n\r\n", "not HTTP/1.0 or HTTP/1.1"),
        ("GET http://a/ HTTP/1.1 \r\n\r\n", "malformed request line"),
        ("GET http://a/ HTTP/1.1\n", "malformed request line"),
        ("GET http://a/ HTTP/1.1\rX", "malformed request line"),
        ("GET http://a/ HTTP/1.1\r\nX: y\n", "line ending without CR"),
        ("GET http://a/ HTTP/1.1\r\nX: y\rz", "CR without LF"),
        ("GET http://a/ HTTP/1.1\r\n\n", "line ending without CR"),
        ("GET http://a/ HTTP/1.1\r\n\rX", "CR without LF"),
        ("GET http://a/ HTTP/1.1\r\nX: y\r\n z\r\n\r\n", "obsolete line folding"),
        ("GET http://a/ HTTP/1.1\r\nX y: z\r\n\r\n", "malformed header name"),
        ("GET http://a/ HTTP/1.1\r\n: z\r\n\r\n", "malformed header name"),
        ("GET http://a/ HTTP/1.1\r\nX: a\u{00}b\r\n\r\n", "control byte in a header value"),
        ("GET http://a/ HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "two Host fields"),
        ("GET http://a/ HTTP/1.1\r\nProxy-Authorization: x\r\nProxy-Authorization: y\r\n\r\n",
         "two Proxy-Authorization fields"),
    ])
    func invalid(text: String, expected: String) {
        let result = parse(text)
        #expect(result == .invalid(reason: expected, reply: .badRequest))
        // Refused for good: more bytes do not change the answer.
        #expect(parse(text + "X: y\r\n\r\n") == result)
    }

    @Test func methodsAreCaseSensitive() {
        // "connect" is some other method: it needs an absolute-form target.
        #expect(reason(parse("connect a.example:443 HTTP/1.1\r\n\r\n")) == "request target is not an absolute http URI")
    }

    @Test func headLengthIsBounded() {
        let text = "GET http://a/ HTTP/1.1\r\nX: " + String(repeating: "y", count: 100) + "\r\n\r\n"
        let length = text.utf8.count
        #expect(value(parse(text, limit: length))?.headLength == length)
        #expect(reason(parse(text, limit: length - 1)) == "request head longer than the limit")
        let cut = parsed(Array(bytes(text)[0..<(length - 2)])) { HTTPProxyRequest.parse($0, maximumHeadLength: length - 1) }
        #expect(cut == .incomplete)
    }

    @Test func atMost100HeaderLines() {
        let head = "GET http://a/ HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 100)
        #expect(value(parse(head + "\r\n")) != nil)
        #expect(reason(parse(head + "X")) == "more than 100 header lines")
        #expect(reason(parse(head + "X: y\r\n\r\n")) == "more than 100 header lines")
    }

    @Test func whitespaceAroundValuesIsNotPartOfThem() {
        let text = "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: \t Basic abc= \t\r\nX:\r\n\r\n"
        let input = bytes(text)
        #expect(value(parse(text))?.proxyAuthorization.map { String(decoding: input[$0], as: UTF8.self) } == "Basic abc=")
    }
}
