import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("TLVs, SSL and UNIX paths")
struct TLVTests {
    @Test("typed accessors read the first TLV of each type")
    func accessors() throws {
        let ssl = ProxySSLInfo(
            client: ProxySSLInfo.clientSSL | ProxySSLInfo.clientCertificateConnection, verify: 0,
            subTLVs: [
                ProxyTLV(type: ProxyTLV.sslVersion, text: "TLSv1.3"),
                ProxyTLV(type: ProxyTLV.sslCommonName, text: "client.example"),
                ProxyTLV(type: ProxyTLV.sslCipher, text: "TLS_AES_256_GCM_SHA384"),
                ProxyTLV(type: ProxyTLV.sslSignatureAlgorithm, text: "SHA256"),
                ProxyTLV(type: ProxyTLV.sslKeyAlgorithm, text: "RSA2048"),
            ])
        let tlvs = [
            ProxyTLV(type: ProxyTLV.alpn, text: "h2"), ProxyTLV(type: ProxyTLV.authority, text: "example.com"),
            ProxyTLV(type: ProxyTLV.authority, text: "second.example"),
            ProxyTLV(type: ProxyTLV.uniqueID, value: [1, 2, 3]),
            ProxyTLV(type: ProxyTLV.netns, text: "blue"), ssl.tlv,
        ]
        let header = ProxyHeader.tcp(
            source: IPEndpoint(address: .v4(IPv4Address(1, 2, 3, 4)), port: 1),
            destination: IPEndpoint(address: .v4(.loopback), port: 2),
            version: .v2, tlvs: tlvs)
        let bytes = try ProxyHeaderEncoder.encode(header, appendingCRC32C: true)
        let parsed = try detector.parse(bytes).header
        #expect(parsed.alpn == ascii("h2"))
        #expect(parsed.authority == "example.com")
        #expect(parsed.uniqueID == [1, 2, 3])
        #expect(parsed.netns == "blue")
        #expect(parsed.crc32c != nil)
        let info = try #require(parsed.ssl)
        #expect(info == ssl)
        #expect(info.isSSL)
        #expect(info.verify == 0)
        #expect(info.version == "TLSv1.3")
        #expect(info.commonName == "client.example")
        #expect(info.cipher == "TLS_AES_256_GCM_SHA384")
        #expect(info.signatureAlgorithm == "SHA256")
        #expect(info.keyAlgorithm == "RSA2048")
        #expect(parsed.tlv(ofType: 0x99) == nil)
        #expect(ProxyHeader.local(version: .v2).authority == nil)
    }

    @Test("SSL parsing checks the type and the structure")
    func sslParsing() throws {
        #expect(throws: ProxyProtocolError.v2NotSSL(type: 0x02)) {
            try ProxySSLInfo(parsing: ProxyTLV(type: 0x02, value: [0, 0, 0, 0, 0]))
        }
        #expect(throws: ProxyProtocolError.v2SSLTooShort(4)) {
            try ProxySSLInfo(parsing: ProxyTLV(type: 0x20, value: [0, 0, 0, 0]))
        }
        #expect(throws: ProxyProtocolError.v2SSLSubTLVOverrun(offset: 5)) {
            try ProxySSLInfo(parsing: ProxyTLV(type: 0x20, value: [0, 0, 0, 0, 0, 0x21, 0, 2, 0x41]))
        }
        let info = try ProxySSLInfo(
            parsing: ProxyTLV(type: 0x20, value: [0x05, 0x00, 0x00, 0x01, 0x02, 0x99, 0x00, 0x00]))
        #expect(info.client == 0x05)
        #expect(info.verify == 0x0102)
        #expect(info.subTLVs == [ProxyTLV(type: 0x99, value: [])])
        #expect(info.version == nil)
        // A malformed SSL TLV in a hand-built header reads as nil.
        var header = ProxyHeader.local(version: .v2)
        header.tlvs = [ProxyTLV(type: 0x20, value: [1])]
        #expect(header.ssl == nil)
    }

    @Test("text is nil for invalid UTF-8")
    func text() {
        #expect(ProxyTLV(type: ProxyTLV.authority, value: [0xFF, 0xFE]).text == nil)
        #expect(ProxyTLV(type: ProxyTLV.authority, text: "bücher.example").text == "bücher.example")
    }

    @Test("registered type numbers")
    func typeNumbers() {
        #expect(
            [
                ProxyTLV.alpn, ProxyTLV.authority, ProxyTLV.crc32c, ProxyTLV.noop, ProxyTLV.uniqueID, ProxyTLV.ssl,
                ProxyTLV.sslVersion,
                ProxyTLV.sslCommonName, ProxyTLV.sslCipher, ProxyTLV.sslSignatureAlgorithm, ProxyTLV.sslKeyAlgorithm,
                ProxyTLV.netns,
            ]
                == [0x01, 0x02, 0x03, 0x04, 0x05, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x30])
        #expect(ProxyTLV.customTypes.contains(0xE7))
        #expect(ProxyTLV.experimentalTypes == 0xF0...0xF7)
        #expect(ProxyTLV.futureTypes.upperBound == 0xFF)
    }

    @Test("UNIX paths hold exactly 108 bytes inline")
    func unixPaths() throws {
        #expect(MemoryLayout<UnixSocketPath>.size == 108)
        let path = try #require(UnixSocketPath(path: "/run/app.sock"))
        #expect(path.pathBytes == ascii("/run/app.sock"))
        #expect(path.bytes.count == 108)
        #expect(path.bytes[13...].allSatisfy { $0 == 0 })
        #expect(path.description == "/run/app.sock")
        #expect(!path.isAbstract)
        #expect(path[0] == UInt8(ascii: "/"))
        let abstract = try #require(UnixSocketPath([0] + ascii("name")))
        #expect(abstract.isAbstract)
        #expect(abstract.description == "@name")
        #expect(abstract.pathBytes.isEmpty)
        #expect(UnixSocketPath().description == "")
        #expect(!UnixSocketPath().isAbstract)
        #expect(UnixSocketPath([UInt8](repeating: 0x61, count: 108)) != nil)
        #expect(UnixSocketPath([UInt8](repeating: 0x61, count: 109)) == nil)
        #expect(UnixSocketPath(path: "/a") == UnixSocketPath(path: "/a"))
        #expect(UnixSocketPath(path: "/a") != UnixSocketPath(path: "/b"))
        #expect(
            Set([UnixSocketPath(path: "/a")!, UnixSocketPath(path: "/a")!, UnixSocketPath(path: "/b")!]).count == 2)
        // Bytes after the first NUL are kept: equality is over all 108.
        let trailing = try #require(UnixSocketPath(ascii("/a") + [0, 0x42]))
        #expect(trailing != UnixSocketPath(path: "/a"))
        #expect(trailing.description == "/a")
    }
}
