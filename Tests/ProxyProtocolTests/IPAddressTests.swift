import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("IPAddress and IPEndpoint")
struct IPAddressTests {
    @Test("parses either family, mixed IPv6 included")
    func parse() {
        #expect(IPAddress("1.2.3.4") == .v4(IPv4Address(1, 2, 3, 4)))
        #expect(IPAddress("::1") == .v6(.loopback))
        #expect(IPAddress("::ffff:1.2.3.4") == .v6(IPv6Address(v4Mapped: IPv4Address(1, 2, 3, 4))))
        #expect(IPAddress("1.2.3") == nil)
        #expect(IPAddress("[::1]") == nil)
        #expect(IPAddress("") == nil)
        #expect(IPAddress("localhost") == nil)
    }

    @Test("unmapped turns v4-mapped IPv6 into IPv4 and leaves the rest")
    func unmapped() {
        let v4 = IPv4Address(198, 51, 100, 1)
        #expect(IPAddress.v6(IPv6Address(v4Mapped: v4)).unmapped == .v4(v4))
        #expect(IPAddress.v6(.loopback).unmapped == .v6(.loopback))
        #expect(IPAddress.v4(v4).unmapped == .v4(v4))
        #expect(IPAddress.v4(v4).isIPv4)
        #expect(!IPAddress.v6(.loopback).isIPv4)
    }

    @Test("loopback covers both families and v4-mapped loopback")
    func loopback() {
        #expect(IPAddress.v4(.loopback).isLoopback)
        #expect(IPAddress.v6(.loopback).isLoopback)
        #expect(IPAddress.v6(IPv6Address(v4Mapped: .loopback)).isLoopback)
        #expect(!IPAddress.v6(.any).isLoopback)
    }

    @Test("endpoints print the way GOST logs them")
    func endpointDescription() {
        #expect(IPEndpoint(address: .v4(IPv4Address(1, 2, 3, 4)), port: 80).description == "1.2.3.4:80")
        #expect(IPEndpoint(address: .v6(.loopback), port: 8080).description == "[::1]:8080")
        #expect(
            IPEndpoint(address: .v6(IPv6Address(v4Mapped: IPv4Address(1, 2, 3, 4))), port: 0).description
                == "[::ffff:1.2.3.4]:0")
        #expect(IPAddress.v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1)).description == "2001:db8::1")
    }
}
