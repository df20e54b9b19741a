import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// Each counter moves with the event it counts, by exactly that much. Counters checked in
/// other suites: accept pauses (LimitsTests), buffer waits, pool exhaustion and the buffer gauges
/// (LimitsTests, IntegrityTests), HTTP requests (RequestTimeoutTests), connect failures and
/// timeouts (TargetChoiceTests, UpstreamFailureTests), closes by reason (CloseReasonTests),
/// dropped log lines and buffer memory (ResourceTests, end to end), accept errors (end to end).
@Suite("Counters", .serialized)
struct CounterTests {
    @Test func connectionsAndBytes() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let relay = try RelayFixture([forwardService(to: echo.port)])
        defer { relay.stop() }
        for size in [1, 1000, 70_000] {
            let client = try Sockets.connect(port: relay.port)
            try Sockets.sendAll(client, [UInt8](repeating: 0x41, count: size))
            shutdown(client, Int32(SHUT_WR))
            #expect(try Sockets.receiveAll(client).count == size)
            close(client)
        }
        #expect(relay.eventually { relay.metric("ringway_connections_closed_total") == 3 })
        #expect(relay.metric("ringway_connections_accepted_total") == 3)
        #expect(relay.metric("ringway_connections_active") == 0)
        #expect(relay.metric("ringway_bytes_client_to_upstream_total") == 71_001)
        #expect(relay.metric("ringway_bytes_upstream_to_client_total") == 71_001)
        #expect(relay.closes("finished") == 3)
        #expect(relay.metric("ringway_close_stalls_total") == 0)
    }

    @Test func proxyHeadersReceivedByVersionAndKindAndSent() throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(
            to: upstream.port, receive: ProxyReceiveConfig(), send: ProxySendConfig(version: .v1))])
        defer { relay.stop() }
        let inputs: [[UInt8]] = [
            ascii(v1Line("192.0.2.1", "192.0.2.2", 1, 2) + "a"),  // v1
            ascii(v1Line("192.0.2.1", "192.0.2.2", 1, 2) + "b"),  // v1
            encodeV2(source: "192.0.2.9", 9) + ascii("c"),  // v2
            ascii("PROXY UNKNOWN\r\nd"),  // v1, socket endpoints used
            v2Header(versionCommand: 0x20, family: 0x00) + ascii("e"),  // v2 LOCAL
            ascii("f"),  // no header
            ascii("PROXY TCP4 1.2.3.4 1.2.3.4 99999 1\r\n"),  // refused: port out of range
        ]
        for bytes in inputs {
            let client = try Sockets.connect(port: relay.port)
            try Sockets.sendAll(client, bytes)
            shutdown(client, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(client)
            close(client)
        }
        #expect(relay.eventually { relay.metric("ringway_connections_closed_total") == 7 })
        #expect(relay.metric("ringway_proxy_headers_received_v1_total") == 3)
        #expect(relay.metric("ringway_proxy_headers_received_v2_total") == 2)
        #expect(relay.metric("ringway_proxy_headers_local_total") == 2)
        #expect(relay.metric("ringway_proxy_headers_absent_total") == 1)
        #expect(relay.metric("ringway_proxy_headers_sent_total") == 6)
        #expect(relay.metric("ringway_proxy_header_rejections_total", label: "reason=\"v1_port_out_of_range\"") == 1)
        #expect(upstream.acceptedCount == 6)
    }
}
