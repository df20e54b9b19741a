@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

@Suite("Handshake: SOCKS5 client")
struct HandshakeSOCKS5ClientTests {
    let none = UnsafeRawBufferPointer(start: nil, count: 0)

    @Test func greeting() {
        #expect(written { SOCKS5Client.writeGreeting(offeringCredentials: false, into: $0) } == [5, 1, 0])
        #expect(written { SOCKS5Client.writeGreeting(offeringCredentials: true, into: $0) } == [5, 2, 0, 2])
        // What the server makes of it.
        let greeting = written { SOCKS5Client.writeGreeting(offeringCredentials: true, into: $0) } ?? []
        #expect(value(parsed(greeting, SOCKS5Greeting.parse))?.offersUsernamePassword == true)
    }

    @Test func methodSelection() {
        #expect(parsed([5, 0], { SOCKS5Client.parseMethodSelection($0, offeredCredentials: false) })
            == .complete(.noAuthentication, consumed: 2))
        #expect(parsed([5, 2], { SOCKS5Client.parseMethodSelection($0, offeredCredentials: true) })
            == .complete(.usernamePassword, consumed: 2))
        #expect(reason(parsed([5, 2], { SOCKS5Client.parseMethodSelection($0, offeredCredentials: false) }))
            == "proxy chose an authentication method we did not offer")
        #expect(reason(parsed([5, 0xFF], { SOCKS5Client.parseMethodSelection($0, offeredCredentials: true) }))
            == "proxy accepts none of our authentication methods")
        #expect(reason(parsed([4], { SOCKS5Client.parseMethodSelection($0, offeredCredentials: true) }))
            == "proxy does not answer SOCKS version 5")
        expectIncompleteAtEveryCut([5, 0]) { SOCKS5Client.parseMethodSelection($0, offeredCredentials: false) }
    }

    @Test func credentialsRoundTrip() {
        let credentials = ProxyCredentials(user: bytes("alice"), password: bytes("pa:ss"))
        let message = written { SOCKS5Client.writeCredentials(credentials, into: $0) } ?? []
        #expect(message == [1, 5] + bytes("alice") + [5] + bytes("pa:ss"))
        let parsedMessage = value(parsed(message, SOCKS5UserPassword.parse))
        #expect(parsedMessage.map { Array(message[$0.user]) } == bytes("alice"))
        #expect(parsedMessage.map { Array(message[$0.password]) } == bytes("pa:ss"))
        #expect(written { SOCKS5Client.writeCredentials(ProxyCredentials(user: [], password: [1]), into: $0) } == nil)
        #expect(written {
            SOCKS5Client.writeCredentials(ProxyCredentials(user: [1], password: Array(repeating: 1, count: 256)), into: $0)
        } == nil)
    }

    @Test func authenticationStatus() {
        #expect(parsed([1, 0], SOCKS5Client.parseAuthenticationStatus) == .complete(.success, consumed: 2))
        #expect(reason(parsed([1, 1], SOCKS5Client.parseAuthenticationStatus)) == "proxy refused our credentials")
        #expect(reason(parsed([5, 0], SOCKS5Client.parseAuthenticationStatus))
            == "proxy does not answer username/password version 1")
        expectIncompleteAtEveryCut([1, 0], SOCKS5Client.parseAuthenticationStatus)
    }

    @Test func connectRequests() {
        #expect(written { SOCKS5Client.writeConnect(to: RequestedTarget(host: ipv4("1.2.3.4"), port: 80), names: none, into: $0) }
            == [5, 1, 0, 1, 1, 2, 3, 4, 0, 80])
        #expect(written { SOCKS5Client.writeConnect(to: RequestedTarget(host: ipv6("::2"), port: 443), names: none, into: $0) }
            == [5, 1, 0, 4] + Array(repeating: 0, count: 15) + [2, 1, 0xBB])
        let long = Array(repeating: UInt8(ascii: "a"), count: 256)
        let tooLong = RequestedTarget(host: .name(start: 0, count: 256), port: 80)
        #expect(long.withUnsafeBytes { names in written { SOCKS5Client.writeConnect(to: tooLong, names: names, into: $0) } }
            == nil)
        #expect(written(capacity: 9) {
            SOCKS5Client.writeConnect(to: RequestedTarget(host: ipv4("1.2.3.4"), port: 80), names: none, into: $0)
        } == nil)
    }

    /// What the client writes, the server reads as the same target.
    @Test(arguments: ["example.com", "a", "xn--bcher-kva.example", "_sip._tcp.example.net.", "10.0.0.1", "2001:db8::7"])
    func connectRoundTrip(host: String) {
        let names = bytes(host)
        let literal: RequestedHost? = IPAddress(host).map { .address($0) }
        let target = RequestedTarget(host: literal ?? .name(start: 0, count: names.count), port: 8443)
        let request = names.withUnsafeBytes { names in written { SOCKS5Client.writeConnect(to: target, names: names, into: $0) } }
        guard let request else {
            Issue.record("no request")
            return
        }
        let back = value(parsed(request, SOCKS5Request.parse))
        #expect(back?.command == .connect)
        #expect(back?.target.port == 8443)
        if let literal {
            #expect(back?.target.host == literal)
        } else {
            #expect(back.flatMap { nameText($0.target.host, in: request) } == host)
        }
    }

    @Test func replies() {
        let v4: [UInt8] = [5, 0, 0, 1, 10, 0, 0, 2, 0x9C, 0x40]
        let result = parsed(v4 + [0x48], SOCKS5Client.parseReply)
        guard case .complete(let reply, let consumed) = result else {
            Issue.record("\(result)")
            return
        }
        #expect(consumed == 10 && reply.succeeded && reply.boundHost == ipv4("10.0.0.2") && reply.boundPort == 40000)
        expectIncompleteAtEveryCut(v4, SOCKS5Client.parseReply)

        let named: [UInt8] = [5, 4, 0, 3, 3] + bytes("a b") + [0, 0]  // the bound name is skipped, not judged
        let namedReply = value(parsed(named, SOCKS5Client.parseReply))
        #expect(namedReply?.replyCode == .hostUnreachable && namedReply?.succeeded == false)
        let v6: [UInt8] = [5, 5, 0, 4] + Array(repeating: 0, count: 18)
        #expect(value(parsed(v6, SOCKS5Client.parseReply))?.replyCode == .connectionRefused)
        expectIncompleteAtEveryCut(v6, SOCKS5Client.parseReply)
        #expect(value(parsed([5, 0x42, 0, 1, 0, 0, 0, 0, 0, 0], SOCKS5Client.parseReply))?.replyCode == nil)

        // Server replies written by us read back.
        let ours = written { SOCKS5Reply.write(.notAllowed, into: $0) } ?? []
        #expect(value(parsed(ours, SOCKS5Client.parseReply))?.replyCode == .notAllowed)
    }

    @Test(arguments: [
        ([4, 0, 0, 1], "proxy does not answer SOCKS version 5"),
        ([5, 0, 1, 1], "SOCKS5 reply with a reserved byte other than 0"),
        ([5, 0, 0, 9], "unknown SOCKS5 address type in the reply"),
        ([5, 0, 0, 3, 0], "empty bound name in the SOCKS5 reply"),
    ] as [([UInt8], String)])
    func invalidReplies(message: [UInt8], reason expected: String) {
        #expect(reason(parsed(message, SOCKS5Client.parseReply)) == expected)
    }
}
