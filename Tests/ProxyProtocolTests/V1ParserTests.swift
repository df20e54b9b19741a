import ProxyProtocol
import RingwayTestSupport
import Testing

private func tcp4(_ source: IPv4Address, _ destination: IPv4Address, _ sourcePort: UInt16, _ destinationPort: UInt16)
    -> ExpectedDetection
{
    .header(
        ProxyHeader(
            version: .v1, command: .proxy, transport: .stream,
            addresses: .ipv4(
                source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)),
        consumed: nil)
}

private func tcp6(_ source: String, _ destination: String, _ sourcePort: UInt16, _ destinationPort: UInt16)
    -> ExpectedDetection
{
    .header(
        ProxyHeader(
            version: .v1, command: .proxy, transport: .stream,
            addresses: .ipv6(
                source: IPv6Address(source)!, destination: IPv6Address(destination)!, sourcePort: sourcePort,
                destinationPort: destinationPort)),
        consumed: nil)
}

private let unknown = ExpectedDetection.header(.local(version: .v1), consumed: nil)
private let longestIPv6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

@Suite("v1 parser")
struct V1ParserTests {
    static let validLines: [DetectionCase] = [
        DetectionCase(
            "spec example", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
            tcp4(IPv4Address(192, 168, 0, 1), IPv4Address(192, 168, 0, 11), 56324, 443)),
        DetectionCase(
            "longest TCP4 line (56 bytes)", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
            tcp4(IPv4Address(0xFFFF_FFFF), IPv4Address(0xFFFF_FFFF), 65535, 65535)),
        DetectionCase("zero address and ports", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", tcp4(.any, .any, 0, 0)),
        DetectionCase("TCP6 loopback", "PROXY TCP6 ::1 ::1 1 2\r\n", tcp6("::1", "::1", 1, 2)),
        DetectionCase(
            "longest TCP6 line (104 bytes)", "PROXY TCP6 \(longestIPv6) \(longestIPv6) 65535 65535\r\n",
            tcp6(longestIPv6, longestIPv6, 65535, 65535)),
        DetectionCase(
            "TCP6 upper case and full groups",
            "PROXY TCP6 2001:DB8::1 0000:0000:0000:0000:0000:0000:0000:0001 80 443\r\n",
            tcp6("2001:db8::1", "::1", 80, 443)),
        DetectionCase(
            "TCP6 v4-mapped in hex", "PROXY TCP6 ::ffff:c000:201 ::ffff:c633:6407 1024 8443\r\n",
            tcp6("::ffff:192.0.2.1", "::ffff:198.51.100.7", 1024, 8443)),
        DetectionCase("UNKNOWN short form", "PROXY UNKNOWN\r\n", unknown),
        DetectionCase(
            "UNKNOWN worst case (107 bytes)", "PROXY UNKNOWN \(longestIPv6) \(longestIPv6) 65535 65535\r\n", unknown),
        DetectionCase(
            "UNKNOWN with arbitrary bytes", ascii("PROXY UNKNOWN ") + [0, 0xFF, 0x7F, 0x20, 0x09] + ascii("\r\n"),
            unknown),
        DetectionCase("UNKNOWN with a bare space", "PROXY UNKNOWN \r\n", unknown),
        DetectionCase(
            "UNKNOWN padded to exactly 107 bytes", "PROXY UNKNOWN " + String(repeating: "x", count: 91) + "\r\n",
            unknown),
        DetectionCase(
            "followed by payload", "PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\nGET / HTTP/1.1\r\n",
            .header(
                ProxyHeader(
                    version: .v1, command: .proxy, transport: .stream,
                    addresses: .ipv4(
                        source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 2), sourcePort: 1,
                        destinationPort: 2)),
                consumed: 34)),
        DetectionCase(
            "followed by a v2 header", ascii("PROXY UNKNOWN\r\n") + v2Signature,
            .header(.local(version: .v1), consumed: 15)),
    ]

    @Test("valid lines", arguments: validLines)
    func valid(row: DetectionCase) {
        checkDetection(row)
    }

    @Test("invalid lines", arguments: ProxyVectors.invalidV1Lines)
    func invalid(row: DetectionCase) {
        checkDetection(row)
    }

    @Test(
        "errors name the field and value",
        arguments: [
            ("PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", ProxyProtocolError.v1PortOutOfRange(.sourcePort, value: 65536)),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 80 100000\r\n", .v1PortOutOfRange(.destinationPort, value: 100_000)),
            ("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", .v1BadAddress(.sourceAddress)),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", .v1MissingField(.destinationPort)),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", .v1BadLineEnding(offset: 30)),
            ("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", .v1BadLineEnding(offset: 30)),
            ("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", .v1AddressFamilyMismatch(.sourceAddress)),
        ])
    func exactErrors(input: String, error: ProxyProtocolError) {
        #expect(detector.detect(ascii(input)) == .invalid(error))
    }

    /// Found by `Fuzz/FuzzProxyV1`: a 40-byte TCP6 address was refused for its length before its bytes
    /// were read, so the error changed from the one its first bytes had already given.
    @Test("an address longer than any IPv6 text keeps the error its first bytes gave")
    func overlongAddressError() {
        let dotted = "1." + String(repeating: "2", count: 38)
        checkDetection(
            DetectionCase(
                "TCP6 with a 40-byte dotted address", "PROXY TCP6 \(dotted) ::1 1 2\r\n",
                .invalid(.v1AddressFamilyMismatch)))
        let hex = "1" + String(repeating: ":1", count: 19) + "x"
        checkDetection(
            DetectionCase(
                "TCP6 with a 40-byte address of groups", "PROXY TCP6 \(hex) ::1 1 2\r\n", .invalid(.v1BadSourceAddress))
        )
    }

    @Test("port out of range reads like the spec asks")
    func portMessage() {
        let error = ProxyProtocolError.v1PortOutOfRange(.sourcePort, value: 65536)
        #expect(error.description == "PROXY v1 source port 65536 is out of range 0-65535")
    }
}
