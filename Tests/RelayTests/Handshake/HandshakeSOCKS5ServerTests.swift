@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

@Suite("Handshake: SOCKS5 server")
struct HandshakeSOCKS5ServerTests {
    // MARK: Greeting

    @Test func greetingOffersNoAuthentication() {
        #expect(parsed([5, 1, 0], SOCKS5Greeting.parse) == .complete(
            SOCKS5Greeting(offersNoAuthentication: true, offersUsernamePassword: false), consumed: 3))
    }

    @Test func greetingOffersBothAmongOthers() {
        let result = parsed([5, 4, 1, 2, 0x80, 0, 0xAA], SOCKS5Greeting.parse)
        let greeting = SOCKS5Greeting(offersNoAuthentication: true, offersUsernamePassword: true)
        #expect(result == .complete(greeting, consumed: 6))
        #expect(greeting.select(requireCredentials: true) == .usernamePassword)
        #expect(greeting.select(requireCredentials: false) == .noAuthentication)
        let gssapiOnly = SOCKS5Greeting(offersNoAuthentication: false, offersUsernamePassword: false)
        #expect(gssapiOnly.select(requireCredentials: false) == .noAcceptable)
    }

    @Test func greetingIsIncompleteAtEveryCut() {
        expectIncompleteAtEveryCut([5, 2, 0, 2], SOCKS5Greeting.parse)
    }

    @Test func invalidGreetings() {
        #expect(parsed([4, 1, 0], SOCKS5Greeting.parse) == .invalid(reason: "not SOCKS version 5", reply: .noAcceptable))
        #expect(parsed([5, 0], SOCKS5Greeting.parse) == .invalid(reason: "SOCKS5 greeting offers no method", reply: .noAcceptable))
        // "GET " is not a greeting, and is refused at its first byte.
        #expect(reason(parsed([0x47], SOCKS5Greeting.parse)) == "not SOCKS version 5")
    }

    @Test func methodSelection() {
        #expect(written { SOCKS5Greeting.writeSelection(.noAuthentication, into: $0) } == [5, 0])
        #expect(written { SOCKS5Greeting.writeSelection(.usernamePassword, into: $0) } == [5, 2])
        #expect(written { SOCKS5Greeting.writeSelection(.noAcceptable, into: $0) } == [5, 0xFF])
        #expect(written(capacity: 1) { SOCKS5Greeting.writeSelection(.noAcceptable, into: $0) } == nil)
    }

    // MARK: RFC 1929

    @Test func userPassword() {
        let message: [UInt8] = [1, 4] + bytes("user") + [6] + bytes("secret") + [0x05]
        let result = parsed(message, SOCKS5UserPassword.parse)
        #expect(result == .complete(SOCKS5UserPassword(user: 2..<6, password: 7..<13), consumed: 13))
        expectIncompleteAtEveryCut(Array(message[0..<13]), SOCKS5UserPassword.parse)
        #expect(written { SOCKS5UserPassword.writeStatus(.success, into: $0) } == [1, 0])
        #expect(written { SOCKS5UserPassword.writeStatus(.failure, into: $0) } == [1, 1])
    }

    @Test func invalidUserPassword() {
        #expect(parsed([5, 1, 0x61], SOCKS5UserPassword.parse) == .invalid(
            reason: "not username/password version 1", reply: .failure))
        #expect(parsed([1, 0, 1, 0x61], SOCKS5UserPassword.parse) == .invalid(reason: "empty SOCKS5 username", reply: .failure))
        #expect(parsed([1, 1, 0x61, 0], SOCKS5UserPassword.parse) == .invalid(reason: "empty SOCKS5 password", reply: .failure))
    }

    // MARK: Requests

    @Test func connectToIPv4() {
        // RFC 1928: 05 01 00 01 then 4 address bytes and the port in network order.
        let result = parsed([5, 1, 0, 1, 192, 0, 2, 10, 0x01, 0xBB], SOCKS5Request.parse)
        #expect(result == .complete(
            SOCKS5Request(command: .connect, target: RequestedTarget(host: ipv4("192.0.2.10"), port: 443)),
            consumed: 10))
    }

    @Test func connectToIPv6() {
        let message: [UInt8] = [5, 1, 0, 4] + [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1, 0, 80]
        let result = parsed(message, SOCKS5Request.parse)
        #expect(result == .complete(
            SOCKS5Request(command: .connect, target: RequestedTarget(host: ipv6("2001:db8::1"), port: 80)),
            consumed: 22))
        expectIncompleteAtEveryCut(message, SOCKS5Request.parse)
    }

    @Test func connectToName() {
        let message: [UInt8] = [5, 1, 0, 3, 11] + bytes("example.com") + [0x01, 0xBB]
        let request = value(parsed(message + [0x16, 0x03], SOCKS5Request.parse))
        #expect(request?.command == .connect)
        #expect(request?.target.port == 443)
        #expect(request?.target.host == .name(start: 5, count: 11))
        #expect(request.flatMap { nameText($0.target.host, in: message) } == "example.com")
        expectIncompleteAtEveryCut(message, SOCKS5Request.parse)
    }

    @Test(arguments: [
        ("127.0.0.1", ipv4("127.0.0.1")),
        ("::1", ipv6("::1")),
        ("::ffff:10.0.0.1", ipv6("::ffff:10.0.0.1")),
    ])
    func nameFieldHoldingALiteralIsAnAddress(text: String, host: RequestedHost) {
        let message: [UInt8] = [5, 1, 0, 3, UInt8(text.utf8.count)] + bytes(text) + [0, 80]
        #expect(value(parsed(message, SOCKS5Request.parse))?.target.host == host)
    }

    @Test func otherCommandsParseForTheCallerToRefuse() {
        let udp = parsed([5, 3, 0, 1, 0, 0, 0, 0, 0, 0], SOCKS5Request.parse)
        #expect(value(udp)?.command == .udpAssociate)
        #expect(value(parsed([5, 2, 0, 1, 10, 0, 0, 1, 0, 80], SOCKS5Request.parse))?.command == .bind)
        #expect(value(parsed([5, 9, 0, 1, 10, 0, 0, 1, 0, 80], SOCKS5Request.parse))?.command == .other(9))
    }

    @Test(arguments: [
        ([4, 1, 0, 1], "not SOCKS version 5", SOCKS5ReplyCode.generalFailure),
        ([5, 1, 1, 1], "SOCKS5 request with a reserved byte other than 0", .generalFailure),
        ([5, 1, 0, 2], "unknown SOCKS5 address type", .addressTypeNotSupported),
        ([5, 1, 0, 0xFF], "unknown SOCKS5 address type", .addressTypeNotSupported),
        ([5, 1, 0, 3, 0], "empty host name", .generalFailure),
        ([5, 1, 0, 1, 10, 0, 0, 1, 0, 0], "target port 0", .generalFailure),
        ([5, 1, 0, 3, 3, 0x61, 0x20], "host name with a byte other than letters, digits, '-', '_' and '.'",
         .hostUnreachable),
        ([5, 1, 0, 3, 3, 0x61, 0x00, 0x62, 0, 80], "host name with a byte other than letters, digits, '-', '_' and '.'",
         .hostUnreachable),
        ([5, 1, 0, 3, 4, 0x61, 0x2E, 0x2E, 0x62, 0, 80], "host name with an empty label", .hostUnreachable),
        ([5, 1, 0, 3, 5, 0x31, 0x2E, 0x32, 0x2E, 0x33], "numeric host name that is not an IP address",
         .hostUnreachable),
        ([5, 1, 0, 3, 3, 0x3A, 0x3A, 0x3A], "malformed IPv6 address", .hostUnreachable),
    ] as [([UInt8], String, SOCKS5ReplyCode)])
    func invalidRequests(message: [UInt8], reason: String, code: SOCKS5ReplyCode) {
        let result = parsed(message, SOCKS5Request.parse)
        #expect(result == .invalid(reason: reason, reply: code))
        // The answer stays when more bytes follow.
        #expect(parsed(message + [0, 80, 1, 2, 3], SOCKS5Request.parse) == result)
    }

    // MARK: Replies

    @Test func replyForIPv4AndIPv6() {
        #expect(written { SOCKS5Reply.write(.succeeded, boundAddress: .v4(IPv4Address(10, 0, 0, 2)), boundPort: 40000, into: $0) }
            == [5, 0, 0, 1, 10, 0, 0, 2, 0x9C, 0x40])
        #expect(written { SOCKS5Reply.write(.connectionRefused, into: $0) } == [5, 5, 0, 1, 0, 0, 0, 0, 0, 0])
        let v6 = written { SOCKS5Reply.write(.succeeded, boundAddress: .v6(.loopback), boundPort: 1, into: $0) }
        #expect(v6 == [5, 0, 0, 4] + Array(repeating: 0, count: 15) + [1, 0, 1])
        #expect(written(capacity: 9) { SOCKS5Reply.write(.succeeded, into: $0) } == nil)
    }

    @Test func replyCodesHaveTheRFCValues() {
        let codes: [SOCKS5ReplyCode] = [
            .succeeded, .generalFailure, .notAllowed, .networkUnreachable, .hostUnreachable, .connectionRefused,
            .ttlExpired, .commandNotSupported, .addressTypeNotSupported,
        ]
        #expect(codes.map(\.rawValue) == Array(0...8))
    }

    @Test func errnoMapsToReplyCodes() {
        #expect(SOCKS5ReplyCode(connectErrno: 111) == .connectionRefused)  // ECONNREFUSED
        #expect(SOCKS5ReplyCode(connectErrno: 101) == .networkUnreachable)  // ENETUNREACH
        #expect(SOCKS5ReplyCode(connectErrno: 113) == .hostUnreachable)  // EHOSTUNREACH
        #expect(SOCKS5ReplyCode(connectErrno: 110) == .ttlExpired)  // ETIMEDOUT
        #expect(SOCKS5ReplyCode(connectErrno: 125) == .ttlExpired)  // ECANCELED
        #expect(SOCKS5ReplyCode(connectErrno: 13) == .generalFailure)  // EACCES
        #expect(SOCKS5ReplyCode(connectErrno: 0) == .generalFailure)
    }
}
