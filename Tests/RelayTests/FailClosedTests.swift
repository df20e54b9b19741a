import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// What Ringway does when a value a check needs is missing: the connection closes, with a
/// reason and a counter, and nothing it sent is believed or forwarded.
@Suite("Fail closed", .serialized)
struct FailClosedTests {
    static let spoofed = v1Line("6.6.6.6", "7.7.7.7", 1111, 2222) + "GET /admin HTTP/1.0\r\n\r\n"

    /// Connects, sends `bytes` and resets at once (SO_LINGER {1, 0}).
    func sendAndReset(port: UInt16, _ bytes: String) throws {
        let client = try Sockets.connect(port: port)
        try Sockets.sendAll(client, bytes)
        Sockets.reset(client)
    }

    func relay(upstream: ScriptedUpstream, maxConnections: Int? = nil) throws -> RelayFixture {
        let receive = ProxyReceiveConfig(trustedProxies: [CIDR("10.0.0.0/8")!])
        return try RelayFixture([forwardService(
            to: upstream.port, receive: receive, send: ProxySendConfig(version: .v2), maxConnections: maxConnections)])
    }

    /// A client that resets right after sending a spoofed header is often gone before its worker
    /// reads its address. Its header must not be believed then: it is closed as `peer_unknown`
    /// (or, when its address was still readable, as untrusted), and never reaches the upstream.
    @Test func aClientWhoseAddressCannotBeReadIsNeverTrusted() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try relay(upstream: upstream)
        defer { relay.stop() }
        for _ in 0..<50 { try sendAndReset(port: relay.port, Self.spoofed) }
        #expect(relay.eventually { relay.closes("peer_unknown") + relay.closes("proxy_header_untrusted") == 50 },
                "peer_unknown \(relay.closes("peer_unknown")), untrusted \(relay.closes("proxy_header_untrusted"))")
        #expect(upstream.acceptedCount == 0)
        #expect(!upstream.recorded.contains { $0.contains("6.6.6.6") })
        // Every close line is written: a line naming the spoofed client would be among them.
        #expect(relay.eventually { relay.logs.lines.filter { $0.contains(" >< ") }.count >= 50 })
        #expect(relay.logs.lines.first(containingAll: ["\"client\":\"6.6.6.6"]) == nil)
    }

    /// The same, deterministically: spoofers wait in the listen backlog (the service is at its
    /// connection limit) and reset before they are accepted. When the limit lifts, each one is
    /// accepted without a readable address and closed.
    @Test func spoofersResetInTheBacklogAreClosedAsPeerUnknown() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try relay(upstream: upstream, maxConnections: 1)
        defer { relay.stop() }
        let holder = try Sockets.connect(port: relay.port)
        try Sockets.sendAll(holder, "hold")
        #expect(relay.eventually { upstream.acceptedCount == 1 })
        for _ in 0..<10 { try sendAndReset(port: relay.port, Self.spoofed) }
        usleep(100_000)
        shutdown(holder, Int32(SHUT_WR))
        _ = try Sockets.receiveAll(holder)
        close(holder)
        #expect(relay.eventually { relay.closes("peer_unknown") == 10 }, "peer_unknown \(relay.closes("peer_unknown"))")
        #expect(upstream.waitForNote { $0.contains("payload=hold") } != nil)
        #expect(upstream.acceptedCount == 1)
        #expect(!upstream.recorded.contains { $0.contains("6.6.6.6") })
        #expect(relay.logs.waitForLine(containing: ["\"reason\":\"peer_unknown\"", "client address unreadable"]) != nil)
    }

    /// A v2 PROXY header (IPv4, 192.0.2.1:49152 -> 198.51.100.7:443) `length` bytes long, the
    /// room after the addresses filled with one NOOP TLV.
    func paddedHeader(length: Int) -> [UInt8] {
        v2Header(body: ipv4Block + tlvBytes(0x04, [UInt8](repeating: 0x61, count: length - 16 - 12 - 3)))
    }

    func passthroughRelay(maximumHeader: Int, upstream: ScriptedUpstream) throws -> RelayFixture {
        try RelayFixture([forwardService(
            to: upstream.port, receive: ProxyReceiveConfig(maximumHeaderLength: maximumHeader),
            send: ProxySendConfig(version: .v2, uniqueID: true, crc32c: true, passthroughTLVs: true))])
    }

    /// The largest header start-up validation allows (65525 received bytes, passed through with
    /// UNIQUE_ID and CRC32C) makes exactly the largest header v2 can carry, and it goes out whole.
    @Test func theLargestAllowedPassthroughHeaderIsSentWhole() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try passthroughRelay(maximumHeader: 65525, upstream: upstream)
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        try Sockets.sendAll(client, paddedHeader(length: 65525) + ascii("payload"))
        shutdown(client, Int32(SHUT_WR))
        _ = try Sockets.receiveAll(client)
        close(client)
        let note = upstream.waitForNote { $0.contains("payload=payload") }
        #expect(note?.contains("source=192.0.2.1:49152 destination=198.51.100.7:443") == true, "\(note ?? "nothing arrived")")
        #expect(note?.contains("tlvs=4:65494,5:16,3:4") == true, "\(note ?? "nothing arrived")")
        #expect(relay.closes("proxy_header_too_large") == 0)
    }

    /// A configuration the start-up check would refuse, run anyway: a header that cannot be
    /// encoded closes the connection (`proxy_header_too_large`) before the upstream is even
    /// contacted, instead of forwarding the client's bytes without it.
    @Test func aHeaderThatCannotBeEncodedClosesTheConnection() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try passthroughRelay(maximumHeader: 65551, upstream: upstream)
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        try Sockets.sendAll(client, paddedHeader(length: 65551) + ascii("PROXY TCP4 6.6.6.6 7.7.7.7 1 2\r\n"))
        #expect(closedByRelay(client))
        #expect(relay.eventually { relay.closes("proxy_header_too_large") == 1 })
        #expect(upstream.acceptedCount == 0)
        #expect(relay.metric("ringway_proxy_headers_sent_total") == 0)
        #expect(relay.metric("ringway_bytes_client_to_upstream_total") == 0)
        #expect(relay.logs.waitForLine(containing: ["cannot encode the PROXY header", "closing instead"]) != nil)
    }
}
