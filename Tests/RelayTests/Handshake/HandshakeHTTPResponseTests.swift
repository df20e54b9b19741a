@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

@Suite("Handshake: HTTP responses, CONNECT client and Basic credentials")
struct HandshakeHTTPResponseTests {
    func response(_ status: HTTPProxyStatus) -> String? {
        written { status.write(into: $0) }.map { String(decoding: $0, as: UTF8.self) }
    }

    @Test func responses() {
        #expect(response(.connectionEstablished) == "HTTP/1.1 200 Connection established\r\n\r\n")
        #expect(response(.badRequest) == "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(response(.proxyAuthenticationRequired) == "HTTP/1.1 407 Proxy Authentication Required\r\n"
            + "Proxy-Authenticate: Basic realm=\"ringway\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        for status in HTTPProxyStatus.allCases where status != .connectionEstablished {
            let text = response(status) ?? ""
            #expect(text.hasPrefix("HTTP/1.1 \(status.rawValue) "))
            #expect(text.hasSuffix("\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
            // Our own client reads it.
            let head = value(parsed(bytes(text)) { HTTPConnectClient.parseResponse($0, maximumHeadLength: 1024) })
            #expect(head?.statusCode == Int(status.rawValue) && head?.succeeded == false && head?.headLength == text.utf8.count)
        }
        #expect(written(capacity: 40) { HTTPProxyStatus.badRequest.write(into: $0) } == nil)
    }

    @Test func connectRequests() {
        let names = bytes("example.com")
        let target = RequestedTarget(host: .name(start: 0, count: 11), port: 443)
        let plain = names.withUnsafeBytes { names in
            written { HTTPConnectClient.writeConnect(to: target, names: names, credentials: nil, into: $0) }
        }
        #expect(plain.map { String(decoding: $0, as: UTF8.self) }
            == "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Connection: keep-alive\r\n\r\n")

        let credentials = ProxyCredentials(user: bytes("Aladdin"), password: bytes("open sesame"))
        let v6 = RequestedTarget(host: ipv6("2001:db8::1"), port: 8443)
        let authorized = written {
            HTTPConnectClient.writeConnect(to: v6, names: UnsafeRawBufferPointer(start: nil, count: 0), credentials: credentials, into: $0)
        } ?? []
        // RFC 7617's example credentials.
        #expect(String(decoding: authorized, as: UTF8.self)
            == "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\nProxy-Connection: keep-alive\r\n"
            + "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n")

        // Our proxy parser reads our client's request, and its credentials match.
        let request = value(parsed(authorized) { HTTPProxyRequest.parse($0, maximumHeadLength: 1024) })
        #expect(request?.isConnect == true && request?.target == v6)
        let matches = request?.proxyAuthorization.map { range in
            authorized.withUnsafeBytes {
                BasicCredentials.matches(
                    headerValue: UnsafeRawBufferPointer(rebasing: $0[range]), user: credentials.user,
                    password: credentials.password)
            }
        }
        #expect(matches == true)
        #expect(written(capacity: authorized.count - 1) {
            HTTPConnectClient.writeConnect(to: v6, names: UnsafeRawBufferPointer(start: nil, count: 0), credentials: credentials, into: $0)
        } == nil)
    }

    func parseResponse(_ text: String) -> HandshakeParse<HTTPConnectClient.Response, NoReply> {
        parsed(bytes(text)) { HTTPConnectClient.parseResponse($0, maximumHeadLength: 1024) }
    }

    @Test func connectResponses() {
        let ok = "HTTP/1.1 200 Connection established\r\nVia: 1.1 squid\r\n\r\n"
        #expect(parseResponse(ok + "\u{16}\u{03}") == .complete(
            HTTPConnectClient.Response(statusCode: 200, headLength: ok.utf8.count), consumed: ok.utf8.count))
        expectIncompleteAtEveryCut(bytes(ok)) { HTTPConnectClient.parseResponse($0, maximumHeadLength: 1024) }
        #expect(value(parseResponse("HTTP/1.0 200\r\n\r\n"))?.succeeded == true)
        #expect(value(parseResponse("HTTP/1.1 204 \r\n\r\n"))?.succeeded == true)
        #expect(value(parseResponse("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))?.succeeded == false)
    }

    @Test(arguments: [
        ("HTTP/2 200\r\n\r\n", "proxy does not answer HTTP/1.0 or HTTP/1.1"),
        ("SSH-2.0-x\r\n", "proxy does not answer HTTP/1.0 or HTTP/1.1"),
        ("HTTP/1.1  200 OK\r\n\r\n", "malformed status code"),
        ("HTTP/1.1 2x0 OK\r\n\r\n", "malformed status code"),
        ("HTTP/1.1 099 OK\r\n\r\n", "malformed status code"),
        ("HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        ("HTTP/1.1 200 OK\n\n", "control byte in the reason"),
        ("HTTP/1.1 200 OK\r\nX\r\n\r\n", "malformed header name"),
        ("HTTP/1.1 200 OK\r\n x: y\r\n\r\n", "obsolete line folding"),
    ])
    func invalidResponses(text: String, expected: String) {
        #expect(reason(parseResponse(text)) == expected)
    }

    @Test func responseHeadIsBounded() {
        let text = "HTTP/1.1 200 OK\r\n" + String(repeating: "X: " + String(repeating: "y", count: 60) + "\r\n", count: 20) + "\r\n"
        #expect(reason(parseResponse(text)) == "proxy response head longer than the limit")
        let many = "HTTP/1.1 200 OK\r\n" + String(repeating: "X: y\r\n", count: 101)
        #expect(reason(parsed(bytes(many)) { HTTPConnectClient.parseResponse($0, maximumHeadLength: 4096) })
            == "more than 100 header lines")
    }

    // MARK: Base64 and Basic

    func encode(_ text: String) -> String? {
        bytes(text).withUnsafeBytes { input in written { Base64.encode(input, into: $0) } }.map { String(decoding: $0, as: UTF8.self) }
    }

    func decode(_ text: String) -> String? {
        bytes(text).withUnsafeBytes { input in written { Base64.decode(input, into: $0) } }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// RFC 4648 section 10.
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64Vectors(plain: String, encoded: String) {
        #expect(encode(plain) == encoded)
        #expect(decode(encoded) == plain)
        #expect(Base64.encodedLength(of: plain.utf8.count) == encoded.utf8.count)
    }

    @Test(arguments: ["Zg=", "Zg", "Zm9v=", "Zh==", "Zm9=", "Z===", "=Zg=", "Zg==Zg==", "Zm 9v", "Zm9v\n", "Zm-_", "Zg=a"])
    func base64Invalid(text: String) {
        #expect(decode(text) == nil)
    }

    @Test func basicCredentials() {
        let user = bytes("Aladdin")
        let password = bytes("open sesame")
        func matches(_ value: String, user: [UInt8] = bytes("Aladdin"), password: [UInt8] = bytes("open sesame")) -> Bool {
            bytes(value).withUnsafeBytes { BasicCredentials.matches(headerValue: $0, user: user, password: password) }
        }
        #expect(matches("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
        #expect(matches("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
        #expect(matches("BASIC   QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
        #expect(!matches("Basic QWxhZGRpbjpvcGVuIHNlc2FtZA=="))  // "open sesamd"
        #expect(!matches("Basic QWxhZGRpbjpvcGVuIHNlc2FtZSE="))  // "open sesame!"
        #expect(!matches("Basic QWxhZGRpbjpvcGVu"))  // "Aladdin:open"
        #expect(!matches("Basic QWxhZGRpbg=="))  // no colon
        #expect(!matches("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
        #expect(!matches("BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ=="))
        #expect(!matches("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ"))  // no padding
        #expect(!matches("Basic", user: user, password: password))
        #expect(!matches("Basic " + String(repeating: "A", count: 1100)))
        // The password may hold colons; the user may not.
        #expect(matches("Basic dTphOmI=", user: bytes("u"), password: bytes("a:b")))
    }
}
