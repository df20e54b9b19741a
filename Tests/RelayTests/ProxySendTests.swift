import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

@Suite("PROXY protocol: sending")
struct ProxySendTests {
    func exchange(_ relay: RelayFixture, _ bytes: [UInt8], host: IPAddress = .v4(.loopback)) throws -> String {
        let client = try Sockets.connect(port: relay.port, host: host)
        defer { close(client) }
        try Sockets.sendAll(client, bytes)
        shutdown(client, Int32(SHUT_WR))
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    /// Each version, in copy and in splice mode.
    @Test(arguments: [ProxySendConfig.Version.v1, .v2], [false, true])
    func headerCarriesTheClientAndTheAddressItDialled(version: ProxySendConfig.Version, splice: Bool) throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, send: ProxySendConfig(version: version), splice: splice)])
        defer { relay.stop() }
        _ = try exchange(relay, ascii("data"))
        let note = try #require(upstream.waitForNote { $0.contains("payload=data") })
        #expect(note.contains("version=\(version.rawValue) command=proxy source=127.0.0.1:"))
        #expect(note.contains("destination=127.0.0.1:\(relay.port)"))
        #expect(relay.metric("ringway_proxy_headers_sent_total") == 1)
    }

    /// A dual-stack listener: an IPv6 client gets a TCP6 header, an IPv4 client (seen as
    /// ::ffff:127.0.0.1) a TCP4 one, never a mixed line.
    @Test func familiesFollowTheClientOnADualStackListener() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, send: ProxySendConfig(version: .v1), listenHost: nil)])
        defer { relay.stop() }
        _ = try exchange(relay, ascii("v6"), host: .v6(.loopback))
        _ = try exchange(relay, ascii("v4"), host: .v4(.loopback))
        #expect(upstream.waitForNote { $0.contains("payload=v6") }?.contains("source=[::1]:") == true)
        let four = upstream.waitForNote { $0.contains("payload=v4") }
        #expect(four?.contains("source=127.0.0.1:") == true && four?.contains("destination=127.0.0.1:") == true)
    }

    @Test func v2ExtrasUniqueIDChecksumAndPassthrough() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let send = ProxySendConfig(version: .v2, uniqueID: true, crc32c: true, passthroughTLVs: true)
        let relay = try RelayFixture([forwardService(to: upstream.port, receive: ProxyReceiveConfig(), send: send)])
        defer { relay.stop() }
        // The client's own header carries AUTHORITY and a CRC of its own; ours replaces the CRC.
        let incoming = ProxyHeader.tcp(
            source: IPEndpoint(address: IPAddress("198.51.100.5")!, port: 5000),
            destination: IPEndpoint(address: IPAddress("198.51.100.1")!, port: 443), version: .v2,
            tlvs: [ProxyTLV(type: ProxyTLV.authority, text: "api.example.com")])
        let bytes = try ProxyHeaderEncoder.encode(incoming, appendingCRC32C: true)
        _ = try exchange(relay, bytes + ascii("tail"))
        let note = try #require(upstream.waitForNote { $0.contains("payload=tail") })
        // AUTHORITY passed through with its value, then our UNIQUE_ID (16 bytes), then our
        // CRC32C, checked by the test's own bit-by-bit CRC.
        #expect(note.contains("source=198.51.100.5:5000"), "\(note)")
        #expect(note.contains("tlvs=2:15,5:16,3:4"), "\(note)")
        #expect(note.contains("authority=api.example.com "), "\(note)")
        #expect(note.contains(" crc=ok "), "\(note)")
        // The same id is the connection's `sid` in the relay's log lines.
        let unique = try #require(note.split(separator: " ").first { $0.hasPrefix("unique=") }?.dropFirst(7))
        #expect(unique.count == 32)
        #expect(relay.logs.waitForLine(containing: ["\"sid\":\"\(unique)\"", "<->"]) != nil, "\(relay.logs.lines)")
    }

    @Test func whoamiAnswersWithTheClientItSees() throws {
        let relay = try RelayFixture([
            ServiceConfig(name: "service-0", kind: .whoami, listen: ListenAddress(host: .v4(.loopback), port: 0),
                          receiveProxy: ProxyReceiveConfig())
        ])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        let header = encodeV2(source: "192.0.2.77", 7777, tlvs: [ProxyTLV(type: ProxyTLV.authority, text: "who.example")])
        // Two requests on one connection, the second pipelined in the same write.
        let requests = ascii("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try Sockets.sendAll(client, header + requests)
        let text = String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
        // The close line counts the request bytes that came behind the PROXY header.
        #expect(relay.logs.waitForLine(containing: ["\"inputBytes\":\(requests.count),", "><"]) != nil,
                "\(relay.logs.lines.suffix(2))")
        let responses = text.components(separatedBy: "HTTP/1.1 200 OK\r\n").dropFirst()
        #expect(responses.count == 2, "\(text)")
        #expect(text.contains("client: 192.0.2.77:7777"))
        #expect(text.contains("proxy: v2 PROXY"))
        #expect(text.contains("tlv: AUTHORITY (0x02) 11 bytes: who.example"))
        #expect(text.contains("request: GET /one HTTP/1.1") && text.contains("request: GET /two HTTP/1.1"))
        #expect(text.contains("Connection: close"))
    }

    @Test func whoamiRefusesGarbageWithA400() throws {
        let relay = try RelayFixture([
            ServiceConfig(name: "service-0", kind: .whoami, listen: ListenAddress(host: .v4(.loopback), port: 0))
        ])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        try Sockets.sendAll(client, "HELLO THERE\r\n\r\n")
        let text = String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(relay.logs.waitForLine(containing: ["\"reason\":\"bad_request\""]) != nil)
        #expect(relay.metric("ringway_connections_closed_by_reason_total", label: "reason=\"bad_request\"") == 1)
    }
}
