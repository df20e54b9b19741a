@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

@Suite("Handshake: SOCKS4 and SOCKS4a")
struct HandshakeSOCKS4Tests {
    @Test func connectWithUserID() {
        // The SOCKS4 document's CONNECT: port 80 to 66.102.7.99, user id "Fred".
        let message: [UInt8] = [4, 1, 0, 80, 66, 102, 7, 99] + bytes("Fred") + [0]
        let result = parsed(message + [0x47], SOCKS4Request.parse)
        #expect(result == .complete(
            SOCKS4Request(command: .connect, target: RequestedTarget(host: ipv4("66.102.7.99"), port: 80), userID: 8..<12),
            consumed: 13))
        expectIncompleteAtEveryCut(message, SOCKS4Request.parse)
    }

    @Test func socks4aName() {
        let message: [UInt8] = [4, 1, 0x01, 0xBB, 0, 0, 0, 1] + [0] + bytes("example.com") + [0]
        let request = value(parsed(message, SOCKS4Request.parse))
        #expect(request?.userID == 8..<8)
        #expect(request?.target.port == 443)
        #expect(request.flatMap { nameText($0.target.host, in: message) } == "example.com")
        expectIncompleteAtEveryCut(message, SOCKS4Request.parse)
        // A literal in the name field is an address.
        let literal: [UInt8] = [4, 1, 0, 80, 0, 0, 0, 255] + bytes("u") + [0] + bytes("10.1.2.3") + [0]
        #expect(value(parsed(literal, SOCKS4Request.parse))?.target.host == ipv4("10.1.2.3"))
    }

    @Test func zeroAddressIsNotSOCKS4a() {
        let message: [UInt8] = [4, 2, 0, 80, 0, 0, 0, 0, 0]
        #expect(value(parsed(message, SOCKS4Request.parse))?.target.host == ipv4("0.0.0.0"))
        #expect(value(parsed(message, SOCKS4Request.parse))?.command == .bind)
    }

    @Test func fieldsAreBoundedTo255Bytes() {
        let header: [UInt8] = [4, 1, 0, 80, 1, 2, 3, 4]
        let longest = header + Array(repeating: 0x61, count: 255)
        #expect(parsed(longest, SOCKS4Request.parse) == .incomplete)
        #expect(value(parsed(longest + [0], SOCKS4Request.parse))?.userID == 8..<263)
        #expect(parsed(longest + [0x61], SOCKS4Request.parse) == .invalid(
            reason: "SOCKS4 user id longer than 255 bytes", reply: .rejected))

        let socks4a: [UInt8] = [4, 1, 0, 80, 0, 0, 0, 1, 0]
        let name = socks4a + Array(repeating: 0x61, count: 63) + [0x2E] + Array(repeating: 0x62, count: 63) + [0x2E]
            + Array(repeating: 0x63, count: 63) + [0x2E] + Array(repeating: 0x64, count: 63)  // 255 bytes
        #expect(parsed(name, SOCKS4Request.parse) == .incomplete)
        #expect(value(parsed(name + [0], SOCKS4Request.parse)) != nil)
        #expect(parsed(name + [0x65], SOCKS4Request.parse) == .invalid(
            reason: "SOCKS4a domain longer than 255 bytes", reply: .rejected))
    }

    @Test(arguments: [
        ([5, 1, 0, 80], "not SOCKS version 4"),
        ([4, 1, 0, 0, 1, 2, 3, 4], "target port 0"),
        ([4, 1, 0, 80, 0, 0, 0, 1, 0, 0], "empty SOCKS4a domain"),
        ([4, 1, 0, 80, 0, 0, 0, 1, 0, 0x61, 0x20], "host name with a byte other than letters, digits, '-', '_' and '.'"),
        ([4, 1, 0, 80, 0, 0, 0, 1, 0, 0x2E, 0], "host name with an empty label"),
    ] as [([UInt8], String)])
    func invalidRequests(message: [UInt8], reason: String) {
        let result = parsed(message, SOCKS4Request.parse)
        #expect(result == .invalid(reason: reason, reply: .rejected))
        #expect(parsed(message + [0x61, 0, 0], SOCKS4Request.parse) == result)
    }

    @Test func replies() {
        #expect(written { SOCKS4Request.writeReply(.granted, into: $0) } == [0, 0x5A, 0, 0, 0, 0, 0, 0])
        #expect(written { SOCKS4Request.writeReply(.rejected, port: 80, address: IPv4Address(1, 2, 3, 4), into: $0) }
            == [0, 0x5B, 0, 80, 1, 2, 3, 4])
        #expect(written(capacity: 7) { SOCKS4Request.writeReply(.granted, into: $0) } == nil)
    }

    // MARK: Client

    @Test func clientRequests() {
        let v4 = RequestedTarget(host: ipv4("10.0.0.1"), port: 8080)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(written { SOCKS4Client.writeConnect(to: v4, names: none, into: $0) } == [4, 1, 0x1F, 0x90, 10, 0, 0, 1, 0])
        #expect(written { SOCKS4Client.writeConnect(to: RequestedTarget(host: ipv6("::1"), port: 1), names: none, into: $0) }
            == nil)
        let names = bytes("xexample.org")
        let named = RequestedTarget(host: .name(start: 1, count: 11), port: 80)
        let request = names.withUnsafeBytes { names in written { SOCKS4Client.writeConnect(to: named, names: names, into: $0) } }
        #expect(request == [4, 1, 0, 80, 0, 0, 0, 1, 0] + bytes("example.org") + [0])
        let outside = RequestedTarget(host: .name(start: 5, count: 11), port: 80)
        #expect(names.withUnsafeBytes { names in written { SOCKS4Client.writeConnect(to: outside, names: names, into: $0) } } == nil)
    }

    @Test func clientReplies() {
        let granted = parsed([0, 0x5A, 0, 0, 0, 0, 0, 0, 0x48], SOCKS4Client.parseReply)
        #expect(value(granted)?.granted == true)
        if case .complete(_, let consumed) = granted { #expect(consumed == 8) }
        #expect(value(parsed([0, 0x5B, 0, 0, 0, 0, 0, 0], SOCKS4Client.parseReply))?.granted == false)
        #expect(value(parsed([4, 0x5A, 0, 0, 0, 0, 0, 0], SOCKS4Client.parseReply))?.granted == true)
        expectIncompleteAtEveryCut([0, 0x5A, 0, 0, 0, 0, 0, 0], SOCKS4Client.parseReply)
        #expect(reason(parsed([0x48, 0x54], SOCKS4Client.parseReply)) == "proxy does not answer SOCKS4")
    }

    @Test func clientRequestParsesAsTheSameTarget() {
        let names = bytes("db.internal")
        for target in [
            RequestedTarget(host: ipv4("192.0.2.1"), port: 22), RequestedTarget(host: .name(start: 0, count: 11), port: 5432),
        ] {
            guard let request = names.withUnsafeBytes({ names in
                written { SOCKS4Client.writeConnect(to: target, names: names, into: $0) }
            }) else {
                Issue.record("no request for \(target)")
                continue
            }
            let parsedRequest = value(parsed(request, SOCKS4Request.parse))
            #expect(parsedRequest?.command == .connect)
            #expect(parsedRequest?.target.port == target.port)
            if let host = parsedRequest?.target.host, case .name = host {
                #expect(nameText(host, in: request) == "db.internal")
            } else {
                #expect(parsedRequest?.target.host == target.host)
            }
        }
    }
}
