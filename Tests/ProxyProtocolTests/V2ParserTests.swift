import ProxyProtocol
import RingwayTestSupport
import Testing

private func proxy(_ transport: ProxyTransport, _ addresses: ProxyAddresses, _ tlvs: [ProxyTLV] = [])
    -> ExpectedDetection
{
    .header(
        ProxyHeader(version: .v2, command: .proxy, transport: transport, addresses: addresses, tlvs: tlvs),
        consumed: nil)
}

private let local = ExpectedDetection.header(.local(version: .v2), consumed: nil)
private let proxyUnspecified = ExpectedDetection.header(
    ProxyHeader(version: .v2, command: .proxy, transport: .unspecified, addresses: .unspecified), consumed: nil)

private let unixSource = UnixSocketPath(path: "/run/haproxy/client.sock")!
private let unixDestination = UnixSocketPath([0] + Array("abstract-name".utf8))!

private let sslValue: [UInt8] =
    [0x07, 0, 0, 0, 0] + tlvBytes(0x21, ascii("TLSv1.3")) + tlvBytes(0x22, ascii("client.example"))
    + tlvBytes(0x23, ascii("TLS_AES_128_GCM_SHA256"))

@Suite("v2 parser")
struct V2ParserTests {
    static let validHeaders: [DetectionCase] = [
        DetectionCase("LOCAL, empty", v2Header(versionCommand: 0x20, family: 0x00), local),
        DetectionCase(
            "LOCAL skips what it holds", v2Header(versionCommand: 0x20, family: 0x11, body: ipv4Block + [1, 2]), local),
        DetectionCase("LOCAL with a family but no addresses", v2Header(versionCommand: 0x20, family: 0x21), local),
        DetectionCase(
            "LOCAL skips a TLV overrun unread", v2Header(versionCommand: 0x20, family: 0x00, body: [0x04, 0xFF, 0xFF]),
            local),
        DetectionCase("TCP over IPv4", v2Header(family: 0x11, body: ipv4Block), proxy(.stream, ipv4BlockAddresses)),
        DetectionCase("UDP over IPv4", v2Header(family: 0x12, body: ipv4Block), proxy(.datagram, ipv4BlockAddresses)),
        DetectionCase("TCP over IPv6", v2Header(family: 0x21, body: ipv6Block), proxy(.stream, ipv6BlockAddresses)),
        DetectionCase("UDP over IPv6", v2Header(family: 0x22, body: ipv6Block), proxy(.datagram, ipv6BlockAddresses)),
        DetectionCase(
            "UNIX stream", v2Header(family: 0x31, body: unixBlock),
            proxy(.stream, .unix(source: unixSource, destination: unixDestination))),
        DetectionCase(
            "UNIX datagram", v2Header(family: 0x32, body: unixBlock),
            proxy(.datagram, .unix(source: unixSource, destination: unixDestination))),
        DetectionCase("PROXY UNSPEC, empty", v2Header(versionCommand: 0x21, family: 0x00), proxyUnspecified),
        DetectionCase(
            "PROXY UNSPEC skips its block", v2Header(versionCommand: 0x21, family: 0x00, body: ipv4Block),
            proxyUnspecified),
        DetectionCase(
            "registered and unknown TLVs in order",
            v2Header(
                family: 0x11,
                body: ipv4Block + tlvBytes(0x01, ascii("h2")) + tlvBytes(0x02, ascii("example.com"))
                    + tlvBytes(0x04, [])
                    + tlvBytes(0x05, [UInt8](repeating: 7, count: 128)) + tlvBytes(0xE0, [1, 2, 3]) + tlvBytes(0x99, [])
                    + tlvBytes(0x30, ascii("blue")) + tlvBytes(0x20, sslValue)),
            proxy(
                .stream, ipv4BlockAddresses,
                [
                    ProxyTLV(type: 0x01, value: ascii("h2")), ProxyTLV(type: 0x02, value: ascii("example.com")),
                    ProxyTLV(type: 0x04, value: []), ProxyTLV(type: 0x05, value: [UInt8](repeating: 7, count: 128)),
                    ProxyTLV(type: 0xE0, value: [1, 2, 3]), ProxyTLV(type: 0x99, value: []),
                    ProxyTLV(type: 0x30, value: ascii("blue")), ProxyTLV(type: 0x20, value: sslValue),
                ])),
        DetectionCase(
            "valid CRC32C", v2HeaderWithChecksum(family: 0x21, body: ipv6Block + tlvBytes(0x02, ascii("a.test"))),
            proxy(
                .stream, ipv6BlockAddresses,
                [
                    ProxyTLV(type: 0x02, value: ascii("a.test")),
                    ProxyTLV(type: 0x03, value: crc(of: ipv6Block, ascii("a.test"))),
                ])),
        DetectionCase(
            "SSL TLV with no sub-TLVs", v2Header(family: 0x11, body: ipv4Block + tlvBytes(0x20, [0, 0, 0, 0, 1])),
            proxy(.stream, ipv4BlockAddresses, [ProxyTLV(type: 0x20, value: [0, 0, 0, 0, 1])])),
        DetectionCase(
            "followed by payload", v2Header(family: 0x11, body: ipv4Block) + ascii("SSH-2.0-OpenSSH_9.2\r\n"),
            .header(
                ProxyHeader(version: .v2, command: .proxy, transport: .stream, addresses: ipv4BlockAddresses),
                consumed: 28)),
    ]

    @Test("valid headers", arguments: validHeaders)
    func valid(row: DetectionCase) {
        checkDetection(row)
    }

    @Test("invalid headers", arguments: ProxyVectors.invalidV2Headers)
    func invalid(row: DetectionCase) {
        checkDetection(row)
    }

    @Test("errors carry the offending values")
    func exactErrors() {
        #expect(detector.detect(v2Header(versionCommand: 0x31)) == .invalid(.v2BadVersion(3)))
        #expect(detector.detect(v2Header(versionCommand: 0x25)) == .invalid(.v2BadCommand(5)))
        #expect(detector.detect(v2Header(family: 0x14)) == .invalid(.v2BadFamily(0x14)))
        #expect(
            detector.detect(v2Header(family: 0x11, length: 5000))
                == .invalid(.v2HeaderTooLong(length: 5016, limit: 4096)))
        #expect(
            detector.detect(v2Header(family: 0x21, body: ipv4Block))
                == .invalid(.v2AddressBlockTooShort(family: 0x21, length: 12, required: 36)))
        #expect(
            detector.detect(v2Header(family: 0x11, body: ipv4Block + [0x04, 0x00]))
                == .invalid(.v2TLVOverrun(offset: 28)))
    }

    @Test("decisions come as soon as the deciding byte arrives")
    func earlyDecisions() {
        // The version/command byte alone.
        #expect(detector.detect(v2Signature + [0x11]) == .invalid(.v2BadVersion(1)))
        #expect(detector.detect(v2Signature + [0x23]) == .invalid(.v2BadCommand(3)))
        #expect(detector.detect(v2Signature + [0x21]) == .needMore)
        // The family byte alone.
        #expect(detector.detect(v2Signature + [0x21, 0x33]) == .invalid(.v2BadFamily(0x33)))
        #expect(detector.detect(v2Signature + [0x21, 0x11]) == .needMore)
        // The length as soon as 16 bytes are in.
        #expect(
            detector.detect(v2Signature + [0x21, 0x11, 0x10, 0x00])
                == .invalid(.v2HeaderTooLong(length: 4112, limit: 4096)))
        #expect(
            detector.detect(v2Signature + [0x21, 0x11, 0x00, 0x0B])
                == .invalid(.v2AddressBlockTooShort(family: 0x11, length: 11, required: 12)))
        #expect(detector.detect(v2Signature + [0x21, 0x11, 0x00, 0x0C]) == .needMore)
    }

    @Test("the limit is configurable and clamped")
    func limit() {
        let header = v2Header(family: 0x21, body: ipv6Block)  // 52 bytes
        let parsed = ProxyDetection.header(
            ProxyHeader(version: .v2, command: .proxy, transport: .stream, addresses: ipv6BlockAddresses), consumed: 52)
        #expect(ProxyHeaderDetector(maximumHeaderLength: 52).detect(header) == parsed)
        #expect(
            ProxyHeaderDetector(maximumHeaderLength: 51).detect(header)
                == .invalid(.v2HeaderTooLong(length: 52, limit: 51)))
        #expect(ProxyHeaderDetector(maximumHeaderLength: 0).maximumHeaderLength == 16)
        #expect(ProxyHeaderDetector(maximumHeaderLength: 1 << 30).maximumHeaderLength == 65551)
        let bareLocal = v2Header(versionCommand: 0x20, family: 0x00)
        #expect(
            ProxyHeaderDetector(maximumHeaderLength: 16).detect(bareLocal)
                == .header(.local(version: .v2), consumed: 16))
        var detector = ProxyHeaderDetector()
        detector.maximumHeaderLength = -5
        #expect(detector.maximumHeaderLength == 16)
        // The longest header the length field allows.
        let filler = ProxyTLV(type: 0xE0, value: [UInt8](repeating: 9, count: 65535 - 12 - 3))
        let longest = v2Header(family: 0x11, body: ipv4Block + tlvBytes(filler.type, filler.value))
        #expect(longest.count == 65551)
        #expect(
            ProxyHeaderDetector(maximumHeaderLength: .max).detect(longest)
                == .header(
                    ProxyHeader(
                        version: .v2, command: .proxy, transport: .stream, addresses: ipv4BlockAddresses, tlvs: [filler]
                    ),
                    consumed: 65551))
    }
}

/// The 4-byte CRC32C value of a TCP-over-IPv6 header with the given block and one AUTHORITY TLV.
private func crc(of block: [UInt8], _ authority: [UInt8]) -> [UInt8] {
    let header = v2HeaderWithChecksum(family: 0x21, body: block + tlvBytes(0x02, authority))
    return Array(header.suffix(4))
}


