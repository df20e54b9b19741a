import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("IPv6Address")
struct IPv6AddressTests {
    @Test(
        "valid hex texts parse",
        arguments: [
            ("::", UInt64(0), UInt64(0)),
            ("::1", 0, 1),
            ("1::", 0x0001_0000_0000_0000, 0),
            ("1:2:3:4:5:6:7:8", 0x0001_0002_0003_0004, 0x0005_0006_0007_0008),
            ("2001:db8::1", 0x2001_0DB8_0000_0000, 1),
            ("2001:DB8::1", 0x2001_0DB8_0000_0000, 1),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", 0x2001_0DB8_0000_0000, 1),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", UInt64.max, UInt64.max),
            ("::1:2:3:4:5:6:7", 0x0000_0001_0002_0003, 0x0004_0005_0006_0007),
            ("1:2:3:4:5:6:7::", 0x0001_0002_0003_0004, 0x0005_0006_0007_0000),
            ("1::8", 0x0001_0000_0000_0000, 8),
            ("fe80::1:2", 0xFE80_0000_0000_0000, 0x0000_0000_0001_0002),
            ("::ffff:102:304", 0, 0x0000_FFFF_0102_0304),
            ("0:0:0:0:0:0:0:0", 0, 0),
            ("a:b:c:d:e:f:0:1", 0x000A_000B_000C_000D, 0x000E_000F_0000_0001),
            ("1:2:3::6:7:8", 0x0001_0002_0003_0000, 0x0000_0006_0007_0008),
        ])
    func valid(text: String, high: UInt64, low: UInt64) {
        let expected = IPv6Address(high: high, low: low)
        #expect(IPv6Address(text, allowEmbeddedIPv4: false) == expected)
        #expect(IPv6Address(text, allowEmbeddedIPv4: true) == expected)
        #expect(ascii(text).withUnsafeBytes { IPv6Address(textBytes: $0) } == expected)
    }

    @Test(
        "invalid texts are rejected",
        arguments: [
            "", ":", ":::", "1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
            "1::2::3", "1:::2", ":1::2", "1::2:", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7:8", "12345::1", "g::1",
            "[::1]", "fe80::1%eth0", "::1/128", " ::1", "::1 ", "1:2:3:4:5:6:7:8:", "::-1", "::+1", "1.2.3.4",
            "::ffff:1.2.3", "::ffff:1.2.3.4.5", "::ffff:01.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4:1",
            "0x1::", "1:2:3:4:5:6:7:8:1.2.3.4",
        ])
    func invalid(text: String) {
        #expect(IPv6Address(text, allowEmbeddedIPv4: true) == nil)
        #expect(IPv6Address(text, allowEmbeddedIPv4: false) == nil)
    }

    @Test(
        "embedded dotted quads parse only when allowed",
        arguments: [
            ("::ffff:1.2.3.4", UInt64(0), UInt64(0x0000_FFFF_0102_0304)),
            ("::1.2.3.4", 0, 0x0000_0000_0102_0304),
            ("1:2:3:4:5:6:1.2.3.4", 0x0001_0002_0003_0004, 0x0005_0006_0102_0304),
            ("64:ff9b::192.0.2.33", 0x0064_FF9B_0000_0000, 0x0000_0000_C000_0221),
        ])
    func embeddedIPv4(text: String, high: UInt64, low: UInt64) {
        #expect(IPv6Address(text, allowEmbeddedIPv4: true) == IPv6Address(high: high, low: low))
        #expect(IPv6Address(text, allowEmbeddedIPv4: false) == nil)
        #expect(ascii(text).withUnsafeBytes { IPv6Address(textBytes: $0) } == nil)
    }

    @Test(
        "writeText follows RFC 5952 with hex groups only",
        arguments: [
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("0:0:0:0:0:0:0:0", "::"),
            ("0:0:0:0:0:0:0:1", "::1"),
            ("1:0:0:0:0:0:0:0", "1::"),
            ("2001:DB8::1", "2001:db8::1"),
            ("2001:0db8::0001", "2001:db8::1"),
            ("::ffff:1.2.3.4", "::ffff:102:304"),
            ("fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0"),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("0:1:0:1:0:1:0:1", "0:1:0:1:0:1:0:1"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
            ("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"),
            ("0:0:1:2:3:4:5:6", "::1:2:3:4:5:6"),
            ("1:2:3:4:5:6:0:0", "1:2:3:4:5:6::"),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ])
    func rfc5952(input: String, expected: String) throws {
        let address = try #require(IPv6Address(input))
        var buffer = [UInt8](repeating: 0, count: 39)
        let length = buffer.withUnsafeMutableBytes { address.writeText(into: $0, at: 0) }
        #expect(String(decoding: buffer[0..<length], as: UTF8.self) == expected)
    }

    @Test("description uses the mixed form for v4-mapped addresses only")
    func description() {
        #expect(IPv6Address(v4Mapped: IPv4Address(10, 0, 0, 1)).description == "::ffff:10.0.0.1")
        #expect(IPv6Address.loopback.description == "::1")
        #expect(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x0000_0000_0000_00FF).description == "2001:db8::ff")
        // ::1.2.3.4 (IPv4-compatible, deprecated) is not v4-mapped: plain hex.
        #expect(IPv6Address(high: 0, low: 0x0102_0304).description == "::102:304")
    }

    @Test("v4-mapped addresses map and unmap")
    func v4Mapped() {
        let v4 = IPv4Address(203, 0, 113, 9)
        let mapped = IPv6Address(v4Mapped: v4)
        #expect(mapped.v4Mapped == v4)
        #expect(mapped.high == 0 && mapped.low == 0x0000_FFFF_CB00_7109)
        #expect(IPv6Address.loopback.v4Mapped == nil)
        #expect(IPv6Address(high: 1, low: 0x0000_FFFF_CB00_7109).v4Mapped == nil)
        #expect(IPv6Address(high: 0, low: 0x0001_FFFF_CB00_7109).v4Mapped == nil)
    }

    @Test("groups, bytes, ordering and flags")
    func accessors() throws {
        let address = try #require(IPv6Address("2001:db8:1:2:3:4:5:6"))
        #expect((0..<8).map { address.group($0) } == [0x2001, 0xDB8, 1, 2, 3, 4, 5, 6])
        #expect((0..<16).map { address.byte($0) } == [0x20, 0x01, 0x0D, 0xB8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6])
        #expect(IPv6Address.loopback.isLoopback)
        #expect(!IPv6Address.any.isLoopback)
        #expect(IPv6Address.any.isUnspecified)
        #expect(IPv6Address(high: 0, low: UInt64.max) < IPv6Address(high: 1, low: 0))
        #expect(IPv6Address(high: 1, low: 1) < IPv6Address(high: 1, low: 2))
    }

    @Test("writeText, parse and description round-trip 20,000 random addresses")
    func roundTrip() {
        var rng = SplitMix64(seed: 0x6_0606)
        var buffer = [UInt8](repeating: 0, count: 39)
        for _ in 0..<20_000 {
            let address = randomIPv6(using: &rng)
            let length = buffer.withUnsafeMutableBytes { address.writeText(into: $0, at: 0) }
            let text = Array(buffer[0..<length])
            #expect(text.withUnsafeBytes { IPv6Address(textBytes: $0, allowEmbeddedIPv4: false) } == address)
            #expect(IPv6Address(address.description) == address)
            // RFC 5952: lowercase, never a lone zero group compressed, never longer than 39.
            #expect(!text.contains { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F") })
            #expect(length <= 39)
        }
    }
}
