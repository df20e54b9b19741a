import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("IPv4Address")
struct IPv4AddressTests {
    @Test(
        "valid dotted quads parse",
        arguments: [
            ("0.0.0.0", UInt32(0)),
            ("255.255.255.255", 0xFFFF_FFFF),
            ("1.2.3.4", 0x0102_0304),
            ("10.0.0.1", 0x0A00_0001),
            ("192.168.100.200", 0xC0A8_64C8),
            ("0.10.100.0", 0x000A_6400),
            ("127.0.0.1", 0x7F00_0001),
            ("9.99.199.249", 0x0963_C7F9),
        ])
    func valid(text: String, value: UInt32) {
        #expect(IPv4Address(text) == IPv4Address(value))
        #expect(IPv4Address(text)?.description == text)
    }

    @Test(
        "invalid dotted quads are rejected",
        arguments: [
            "", "1", "1.2", "1.2.3", "1.2.3.4.", ".1.2.3", "1..2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
            "01.2.3.4", "1.2.3.04", "00.1.1.1", "1.2.3.00", "1.2.3.4 ", " 1.2.3.4", "+1.2.3.4", "1.2.3.-4",
            "1.2.3.4a", "0x1.2.3.4", "1.2.3.1000", "1.2.3.4/24", "\u{0661}.2.3.4", "1.2.3.4\u{0}", "1,2,3,4",
            "1.2.3.", "::1", "1.2.3.4:80", "999.1.1.1", "1.2.3.0255",
        ])
    func invalid(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test("octets, loopback and ordering")
    func accessors() {
        let address = IPv4Address(192, 0, 2, 33)
        #expect(address.octets == (192, 0, 2, 33))
        #expect(address.value == 0xC000_0221)
        #expect(IPv4Address.loopback.isLoopback)
        #expect(IPv4Address(127, 255, 0, 9).isLoopback)
        #expect(!IPv4Address(128, 0, 0, 1).isLoopback)
        #expect(IPv4Address.any.isUnspecified)
        #expect(IPv4Address(1, 2, 3, 4) < IPv4Address(1, 2, 3, 5))
        #expect(IPv4Address(9, 0, 0, 0) < IPv4Address(10, 0, 0, 0))
    }

    @Test("writeText and parse round-trip 20,000 random addresses")
    func roundTrip() {
        var rng = SplitMix64(seed: 0x4_0404)
        var buffer = [UInt8](repeating: 0, count: 15)
        for _ in 0..<20_000 {
            let address = IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))
            let length = buffer.withUnsafeMutableBytes { address.writeText(into: $0, at: 0) }
            let text = Array(buffer[0..<length])
            #expect(text.withUnsafeBytes { IPv4Address(textBytes: $0) } == address)
            #expect(String(decoding: text, as: UTF8.self) == address.description)
        }
    }

    @Test("writeText writes at the given offset")
    func writeAtOffset() {
        var buffer = [UInt8](repeating: UInt8(ascii: "x"), count: 20)
        let end = buffer.withUnsafeMutableBytes { IPv4Address(10, 200, 0, 7).writeText(into: $0, at: 3) }
        #expect(end == 3 + 10)
        #expect(String(decoding: buffer, as: UTF8.self) == "xxx10.200.0.7xxxxxxx")
    }
}
