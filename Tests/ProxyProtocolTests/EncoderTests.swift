import ProxyProtocol
import RingwayTestSupport
import Testing

private let clientV4 = IPEndpoint(address: .v4(IPv4Address(192, 0, 2, 1)), port: 49152)
private let serverV4 = IPEndpoint(address: .v4(IPv4Address(198, 51, 100, 7)), port: 443)
private let clientV6 = IPEndpoint(address: .v6(IPv6Address("2001:db8::1")!), port: 1)
private let serverV6 = IPEndpoint(address: .v6(IPv6Address("2001:db8::2")!), port: 65535)

private func mapped(_ endpoint: IPEndpoint) -> IPEndpoint {
    guard case .v4(let address) = endpoint.address else { return endpoint }
    return IPEndpoint(address: .v6(IPv6Address(v4Mapped: address)), port: endpoint.port)
}

private func text(_ header: ProxyHeader) throws -> String {
    String(decoding: try ProxyHeaderEncoder.encode(header), as: UTF8.self)
}

@Suite("encoder")
struct EncoderTests {
    @Test("v1 lines")
    func v1Lines() throws {
        #expect(
            try text(.tcp(source: clientV4, destination: serverV4, version: .v1))
                == "PROXY TCP4 192.0.2.1 198.51.100.7 49152 443\r\n")
        #expect(
            try text(.tcp(source: clientV6, destination: serverV6, version: .v1))
                == "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n")
        #expect(try text(.local(version: .v1)) == "PROXY UNKNOWN\r\n")
        let unix = ProxyHeader(
            version: .v1, command: .proxy, transport: .stream,
            addresses: .unix(source: UnixSocketPath(path: "/a")!, destination: UnixSocketPath(path: "/b")!))
        #expect(try text(unix) == "PROXY UNKNOWN\r\n")
        var udp = ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v1)
        udp.transport = .datagram
        #expect(try text(udp) == "PROXY UNKNOWN\r\n")
        var local = ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v1)
        local.command = .local
        #expect(try text(local) == "PROXY UNKNOWN\r\n")
        // TLVs cannot be carried by v1: ignored.
        let withTLVs = ProxyHeader.tcp(
            source: clientV4, destination: serverV4, version: .v1, tlvs: [ProxyTLV(type: ProxyTLV.authority, text: "x")]
        )
        #expect(try text(withTLVs) == "PROXY TCP4 192.0.2.1 198.51.100.7 49152 443\r\n")
        #expect(ProxyHeaderEncoder.encodedLength(of: withTLVs, appendingCRC32C: true) == 45)
        let longest = ProxyHeader(
            version: .v1, command: .proxy, transport: .stream,
            addresses: .ipv6(
                source: IPv6Address(high: .max, low: .max), destination: IPv6Address(high: .max, low: .max),
                sourcePort: 65535, destinationPort: 65535))
        #expect(try ProxyHeaderEncoder.encode(longest).count == 104)
    }

    @Test("tcp() keeps one family: unmaps when both sides are IPv4, maps when they differ")
    func tcpFamilies() {
        let v4 = ProxyAddresses.ipv4(
            source: IPv4Address(192, 0, 2, 1), destination: IPv4Address(198, 51, 100, 7), sourcePort: 49152,
            destinationPort: 443)
        #expect(ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v2).addresses == v4)
        #expect(ProxyHeader.tcp(source: mapped(clientV4), destination: mapped(serverV4), version: .v2).addresses == v4)
        #expect(ProxyHeader.tcp(source: mapped(clientV4), destination: serverV4, version: .v2).addresses == v4)
        let mixed = ProxyHeader.tcp(source: clientV4, destination: serverV6, version: .v1)
        #expect(
            mixed.addresses
                == .ipv6(
                    source: IPv6Address(v4Mapped: IPv4Address(192, 0, 2, 1)), destination: IPv6Address("2001:db8::2")!,
                    sourcePort: 49152, destinationPort: 65535))
        let header = ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v2)
        #expect(header.command == .proxy && header.transport == .stream && header.tlvs.isEmpty)
        #expect(header.source == clientV4)
        #expect(header.destination == serverV4)
        #expect(ProxyHeader.local(version: .v2).source == nil)
        #expect(ProxyHeader.local(version: .v2).destination == nil)
    }

    @Test("v2 bytes match the spec's layout")
    func v2Layout() throws {
        let header = ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v2)
        #expect(try ProxyHeaderEncoder.encode(header) == v2Header(family: 0x11, body: ipv4Block))
        let v6 = ProxyHeader.tcp(source: clientV6, destination: serverV6, version: .v2)
        #expect(try ProxyHeaderEncoder.encode(v6) == v2Header(family: 0x21, body: ipv6Block))
        #expect(try ProxyHeaderEncoder.encode(.local(version: .v2)) == v2Header(versionCommand: 0x20, family: 0x00))
        var udp = header
        udp.transport = .datagram
        #expect(try ProxyHeaderEncoder.encode(udp) == v2Header(family: 0x12, body: ipv4Block))
        // LOCAL and UNSPEC are the bare 16 bytes: no addresses, TLVs or checksum.
        var local = header
        local.command = .local
        local.tlvs = [ProxyTLV(type: ProxyTLV.noop, value: [0])]
        #expect(
            try ProxyHeaderEncoder.encode(local, appendingCRC32C: true) == v2Header(versionCommand: 0x20, family: 0x00))
        var unspecified = header
        unspecified.transport = .unspecified
        #expect(try ProxyHeaderEncoder.encode(unspecified) == v2Header(versionCommand: 0x21, family: 0x00))
    }

    @Test("CRC32C is appended, or recomputed in place")
    func checksum() throws {
        let authority = ProxyTLV(type: ProxyTLV.authority, text: "example.com")
        let header = ProxyHeader.tcp(source: clientV6, destination: serverV6, version: .v2, tlvs: [authority])
        let appended = try ProxyHeaderEncoder.encode(header, appendingCRC32C: true)
        #expect(appended == v2HeaderWithChecksum(family: 0x21, body: ipv6Block + tlvBytes(0x02, ascii("example.com"))))
        #expect(ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: true) == appended.count)
        #expect(ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: false) == appended.count - 7)

        // A stale CRC32C TLV in the middle is filled in, not duplicated.
        var stale = header
        stale.tlvs = [ProxyTLV(type: ProxyTLV.crc32c, value: [9, 9, 9, 9]), authority]
        for appending in [false, true] {
            let bytes = try ProxyHeaderEncoder.encode(stale, appendingCRC32C: appending)
            #expect(bytes.count == 16 + 36 + 7 + 14)
            guard case .header(let parsed, let consumed) = detector.detect(bytes) else {
                Issue.record("re-encoded header rejected")
                continue
            }
            #expect(consumed == bytes.count)
            #expect(parsed.tlvs.count == 2)
            #expect(parsed.tlvs[1] == authority)
            #expect(parsed.crc32c == CRC32C.checksum(Array(bytes[0..<55]) + [0, 0, 0, 0] + Array(bytes[59...])))
        }
    }

    @Test(
        "encoding errors",
        arguments: [
            (
                [ProxyTLV(type: 0xE1, value: [UInt8](repeating: 0, count: 65536))],
                ProxyProtocolErrorCode.tlvValueTooLong
            ),
            ([ProxyTLV(type: ProxyTLV.uniqueID, value: [UInt8](repeating: 0, count: 129))], .v2UniqueIDTooLong),
            ([ProxyTLV(type: ProxyTLV.crc32c, value: [1, 2])], .v2CRC32CBadLength),
            (
                [
                    ProxyTLV(type: ProxyTLV.crc32c, value: [0, 0, 0, 0]),
                    ProxyTLV(type: ProxyTLV.crc32c, value: [0, 0, 0, 0]),
                ], .v2CRC32CDuplicate
            ),
            ([ProxyTLV(type: ProxyTLV.ssl, value: [1])], .v2MalformedSSL),
            (
                [
                    ProxyTLV(type: 0xE1, value: [UInt8](repeating: 0, count: 40000)),
                    ProxyTLV(type: 0xE2, value: [UInt8](repeating: 0, count: 40000)),
                ],
                .v2LengthOverflow
            ),
        ])
    func errors(tlvs: [ProxyTLV], code: ProxyProtocolErrorCode) {
        let header = ProxyHeader.tcp(source: clientV4, destination: serverV4, version: .v2, tlvs: tlvs)
        #expect {
            _ = try ProxyHeaderEncoder.encode(header)
        } throws: { error in
            (error as? ProxyProtocolError)?.code == code
        }
    }

    @Test("a buffer too small is refused without writing past it")
    func bufferTooSmall() throws {
        for version in ProxyProtocolVersion.allCases {
            let header = ProxyHeader.tcp(source: clientV6, destination: serverV6, version: version)
            let length = ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: true)
            var storage = [UInt8](repeating: 0xEE, count: length + 8)
            storage.withUnsafeMutableBytes { raw in
                let short = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(length - 1)])
                #expect(throws: ProxyProtocolError.bufferTooSmall(required: length, available: length - 1)) {
                    try ProxyHeaderEncoder.encode(header, appendingCRC32C: true, into: short)
                }
            }
            #expect(storage.allSatisfy { $0 == 0xEE })
            let written = try storage.withUnsafeMutableBytes { (raw) throws(ProxyProtocolError) in
                try ProxyHeaderEncoder.encode(header, appendingCRC32C: true, into: raw)
            }
            #expect(written == length)
            #expect(storage[length...].allSatisfy { $0 == 0xEE })
        }
    }
}
