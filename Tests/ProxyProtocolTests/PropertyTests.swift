import PropertyBased
import ProxyProtocol
import RingwayTestSupport
import Testing

/// Generators of encodable headers.
enum HeaderGenerators {
    static let ipv4 = Gen<UInt32>.value().map { IPv4Address($0) }
    static let ipv6 = zip(Gen<UInt64>.value(), Gen<UInt64>.value(), Gen.bool).map { high, low, mapped in
        // Some v4-mapped addresses, the form dual-stack sockets report.
        mapped ? IPv6Address(v4Mapped: IPv4Address(UInt32(truncatingIfNeeded: low))) : IPv6Address(high: high, low: low)
    }
    static let port = Gen<UInt16>.value()
    static let unixPath = Gen<UInt8>.value().array(of: 0...108).map { UnixSocketPath($0)! }

    static let ipv4Addresses = zip(ipv4, ipv4, port, port).map { source, destination, sourcePort, destinationPort in
        ProxyAddresses.ipv4(
            source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
    }
    static let ipv6Addresses = zip(ipv6, ipv6, port, port).map { source, destination, sourcePort, destinationPort in
        ProxyAddresses.ipv6(
            source: source, destination: destination, sourcePort: sourcePort, destinationPort: destinationPort)
    }
    static let unixAddresses = zip(unixPath, unixPath).map { ProxyAddresses.unix(source: $0, destination: $1) }

    /// Any type but CRC32C (added by the encoder) and SSL (needs structure; `sslTLV` makes those).
    static let rawTLV = zip(Gen<UInt8>.value(), Gen<UInt8>.value().array(of: 0...48)).map { type, value in
        ProxyTLV(type: type == ProxyTLV.crc32c || type == ProxyTLV.ssl ? 0xE0 : type, value: value)
    }
    static let sslTLV = zip(
        Gen<UInt8>.value(in: 0...7), Gen<UInt32>.value(), Gen<UInt8>.value(in: 0x21...0x25),
        Gen<UInt8>.value(in: 0x20...0x7E).array(of: 0...30)
    ).map { client, verify, subType, text in
        ProxySSLInfo(client: client, verify: verify, subTLVs: [ProxyTLV(type: subType, value: text)]).tlv
    }
    static let tlvs = zip(rawTLV.array(of: 0...6), sslTLV, Gen.bool).map { raw, ssl, withSSL in
        withSSL ? raw + [ssl] : raw
    }

    static let v1Header = zip(Gen<ProxyAddresses>.oneOf(ipv4Addresses, ipv6Addresses), Gen.bool(0.1)).map {
        addresses, unknown in
        unknown
            ? ProxyHeader.local(version: .v1)
            : ProxyHeader(version: .v1, command: .proxy, transport: .stream, addresses: addresses)
    }

    static let v2Header = zip(
        Gen<ProxyAddresses>.oneOf(ipv4Addresses, ipv6Addresses, unixAddresses), Gen.bool, tlvs, Gen.bool(0.05)
    ).map { addresses, datagram, tlvs, local in
        local
            ? ProxyHeader.local(version: .v2)
            : ProxyHeader(
                version: .v2, command: .proxy, transport: datagram ? .datagram : .stream, addresses: addresses,
                tlvs: tlvs)
    }
}

@Suite("round-trip properties")
struct PropertyTests {
    @Test("v1: encode then detect gives the header back")
    func v1RoundTrip() async {
        await propertyCheck(count: 2000, input: HeaderGenerators.v1Header) { header in
            let bytes = try ProxyHeaderEncoder.encode(header)
            #expect(bytes.count <= ProxyHeaderEncoder.maximumV1Length)
            #expect(ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: false) == bytes.count)
            #expect(detector.detect(bytes) == .header(header, consumed: bytes.count))
        }
    }

    @Test("v2: encode then detect gives the header back, and re-encoding is byte-identical")
    func v2RoundTrip() async {
        await propertyCheck(count: 2000, input: HeaderGenerators.v2Header, Gen.bool) { header, appendingCRC32C in
            let bytes = try ProxyHeaderEncoder.encode(header, appendingCRC32C: appendingCRC32C)
            #expect(ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: appendingCRC32C) == bytes.count)
            guard case .header(let parsed, let consumed) = detector.detect(bytes + [0x47, 0x45, 0x54]) else {
                Issue.record("rejected: \(detector.detect(bytes))")
                return
            }
            #expect(consumed == bytes.count)
            var expected = header
            if appendingCRC32C && header.command == .proxy {
                expected.tlvs.append(ProxyTLV(type: ProxyTLV.crc32c, value: Array(bytes.suffix(4))))
            }
            #expect(parsed == expected)
            #expect(try ProxyHeaderEncoder.encode(parsed) == bytes)
        }
    }

    @Test("tcp() headers of any two endpoints keep one family and round-trip in both versions")
    func tcpRoundTrip() async {
        let endpoint = zip(
            Gen<IPAddress>.oneOf(
                HeaderGenerators.ipv4.map { IPAddress.v4($0) }, HeaderGenerators.ipv6.map { IPAddress.v6($0) }),
            HeaderGenerators.port
        )
        .map { IPEndpoint(address: $0, port: $1) }
        await propertyCheck(count: 1000, input: endpoint, endpoint, Gen.bool) { source, destination, useV2 in
            let header = ProxyHeader.tcp(source: source, destination: destination, version: useV2 ? .v2 : .v1)
            let bytes = try ProxyHeaderEncoder.encode(header)
            #expect(detector.detect(bytes) == .header(header, consumed: bytes.count))
            switch header.addresses {
            case .ipv4:
                #expect(source.address.unmapped.isIPv4 && destination.address.unmapped.isIPv4)
            case .ipv6(let from, let to, _, _):
                #expect(!(source.address.unmapped.isIPv4 && destination.address.unmapped.isIPv4))
                #expect(IPAddress.v6(from).unmapped == source.address.unmapped)
                #expect(IPAddress.v6(to).unmapped == destination.address.unmapped)
            default:
                Issue.record("unexpected addresses \(header.addresses)")
            }
            #expect(header.source?.address.unmapped == source.address.unmapped)
            #expect(header.destination?.port == destination.port)
        }
    }
}
