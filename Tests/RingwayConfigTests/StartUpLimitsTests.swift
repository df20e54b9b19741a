import ProxyProtocol
import RingwayConfig
import Testing

/// Values that would make the engine misbehave are refused before it starts, with a message
/// that says what to use instead.
@Suite("Start-up limits")
struct StartUpLimitsTests {
    func refusal(_ url: String) -> String? {
        problem { () throws(ConfigurationError) in try RingwayConfiguration(serviceURLs: [url]) }?.description
    }

    /// 1 ns used to be accepted and fired before any header could arrive, switching detection off.
    @Test func headerTimeoutHasAFloorOfOneMillisecond() {
        for tooShort in ["1ns", "999us", "0.5ms", "0s"] {
            let message = refusal("tcp://:8080/x:80?proxyProtocol=1&proxyProtocolTimeout=\(tooShort)")
            #expect(message?.contains("at least 1ms") == true, "\(tooShort): \(message ?? "accepted")")
        }
        #expect(refusal("tcp://:8080/x:80?proxyProtocol=1&proxyProtocolTimeout=1ms") == nil)
    }

    /// The connection's target index is 32 bits now, and the count is bounded where it is read.
    @Test func moreThan65535TargetsAreRefused() throws {
        let message = refusal("tcp://:8080/10.0.0.1:1-65535,10.0.0.2:1-2")
        #expect(message?.contains("at most 65535 targets") == true, "\(message ?? "accepted")")
        let most = try RingwayConfiguration(serviceURLs: ["tcp://:8080/10.0.0.1:1-65535"])
        #expect(most.services[0].targets.count == 65535)
    }

    static let passthrough = "handler.proxyProtocol=2&proxyProtocolTLV.passthrough=true&proxyProtocolTLV.uniqueId=true"
        + "&proxyProtocolTLV.crc32c=true"

    /// A received header passed through with our own TLVs must still fit the v2 length field:
    /// the largest receivable size that fits is accepted, one byte more is refused with the
    /// size to use.
    @Test func aHeaderThatCouldNotBeEncodedIsRefusedAtStartUp() {
        let message = refusal("tcp://:8080/x:80?proxyProtocol=1&proxyProtocolMaxHeader=65526&\(Self.passthrough)")
        #expect(message?.contains("set proxyProtocolMaxHeader to 65525 or less") == true, "\(message ?? "accepted")")
        #expect(refusal("tcp://:8080/x:80?proxyProtocol=1&proxyProtocolMaxHeader=65525&\(Self.passthrough)") == nil)
        // Without passthrough any receivable size is fine.
        #expect(refusal("tcp://:8080/x:80?proxyProtocol=1&proxyProtocolMaxHeader=65551&handler.proxyProtocol=2"
            + "&proxyProtocolTLV.uniqueId=true&proxyProtocolTLV.crc32c=true") == nil)
    }

    @Test func largestHeaderLengthCountsAddressesAndTLVs() {
        let all = ProxySendConfig(version: .v2, uniqueID: true, crc32c: true, passthroughTLVs: true)
        #expect(all.largestHeaderLength(receivingUpTo: 65525) == 65551)
        #expect(all.largestHeaderLength(receivingUpTo: nil) == 16 + 36 + 19 + 7)
        #expect(all.largestHeaderLength(receivingUpTo: 232) == 16 + 216 + 19 + 7)
        #expect(ProxySendConfig(version: .v2).largestHeaderLength(receivingUpTo: 4096) == 52)
        #expect(ProxySendConfig(version: .v1).largestHeaderLength(receivingUpTo: 4096) == 107)
    }

    @Test func requestTimeoutIsAWhoamiKey() throws {
        let services = try RingwayConfiguration(serviceURLs: ["whoami://:8080?requestTimeout=2s"]).services
        #expect(services[0].requestTimeout == .seconds(2))
        #expect(try RingwayConfiguration(serviceURLs: ["whoami://:8080"]).services[0].requestTimeout == .seconds(10))
        #expect(refusal("tcp://:8080/x:80?requestTimeout=2s")?.contains("has no effect on tcp:// services") == true)
        #expect(refusal("whoami://:8080?requestTimeout=0s")?.contains("at least 1ms") == true)
    }

    @Test func metricsEndpointCapsConnectionsAndTakesARequestTimeout() throws {
        let endpoint = try MetricsEndpoint(parsing: ":9100?requestTimeout=3s&path=/metrics")
        #expect(endpoint.requestTimeout == .seconds(3))
        #expect(endpoint.service.requestTimeout == .seconds(3))
        #expect(endpoint.service.maxConnections == 64)
        #expect(try MetricsEndpoint(parsing: ":9100").service.requestTimeout == .seconds(10))
        let unknown = problem { () throws(ConfigurationError) in try MetricsEndpoint(parsing: ":9100?timeout=3s") }
        #expect(unknown?.description.contains("path, requestTimeout") == true, "\(unknown?.description ?? "accepted")")
    }

    @Test func byteSizes() {
        #expect(ByteSize.parse("1073741824") == 1 << 30)
        #expect(ByteSize.parse("512MiB") == 512 << 20)
        #expect(ByteSize.parse("512m") == 512 << 20)
        #expect(ByteSize.parse("1GiB") == 1 << 30)
        #expect(ByteSize.parse("64KB") == 64 << 10)
        #expect(ByteSize.parse("2TiB") == 2 << 40)
        for bad in ["", "MiB", "-1", "1.5GiB", "1 GiB", "1PiB", "99999999999999999999", "9999999999TiB"] {
            #expect(ByteSize.parse(bad) == nil, "\(bad)")
        }
    }
}
