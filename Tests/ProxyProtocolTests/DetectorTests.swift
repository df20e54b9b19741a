import ProxyProtocol
import RingwayTestSupport
import Testing

/// Valid headers of every shape, for the truncation and dribbling tests.
let sampleHeaders: [(name: String, bytes: [UInt8])] = [
    ("v1 TCP4", ascii("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")),
    ("v1 TCP6", ascii("PROXY TCP6 2001:db8::1 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 0\r\n")),
    ("v1 UNKNOWN", ascii("PROXY UNKNOWN\r\n")),
    ("v1 UNKNOWN long", ascii("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n")),
    ("v2 LOCAL", v2Header(versionCommand: 0x20, family: 0x00)),
    ("v2 TCP4", v2Header(family: 0x11, body: ipv4Block)),
    (
        "v2 TCP6 + TLVs + CRC",
        v2HeaderWithChecksum(family: 0x21, body: ipv6Block + tlvBytes(0x01, ascii("h2")) + tlvBytes(0x05, [1, 2, 3]))
    ),
    ("v2 UNIX", v2Header(family: 0x31, body: [UInt8](repeating: 0x41, count: 216))),
]

@Suite("detector")
struct DetectorTests {
    static let firstPackets: [DetectionCase] = [
        DetectionCase("empty", [], .needMore),
        DetectionCase("HTTP/1.1 GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", .notProxy),
        DetectionCase("HTTP/1.1 POST", "POST /api HTTP/1.1\r\n", .notProxy),
        DetectionCase("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .notProxy),
        DetectionCase(
            "TLS ClientHello",
            [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03] + [UInt8](repeating: 0xAB, count: 32),
            .notProxy),
        DetectionCase("SSH banner", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", .notProxy),
        DetectionCase("SMTP client", "EHLO mail.example.com\r\n", .notProxy),
        DetectionCase("bare CRLF", "\r\n", .needMore),
        DetectionCase("CRLF then data", "\r\nHELO\r\n", .notProxy),
        DetectionCase("P alone", "P", .needMore),
        DetectionCase("PROX", "PROX", .needMore),
        DetectionCase("PROXY alone", "PROXY", .needMore),
        DetectionCase("PROXY then space", "PROXY ", .needMore),
        DetectionCase("PROXZ", "PROXZ", .notProxy),
        DetectionCase("lower-case proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", .notProxy),
        DetectionCase("v2 signature, 11 bytes", Array(v2Signature[0..<11]), .needMore),
        DetectionCase("v2 signature alone", v2Signature, .needMore),
        DetectionCase("v2 signature broken at byte 11", Array(v2Signature[0..<11]) + [0x0B], .notProxy),
        DetectionCase("v2 signature broken at byte 4", [0x0D, 0x0A, 0x0D, 0x0A, 0x01], .notProxy),
        DetectionCase("NUL byte", [0x00], .notProxy),
    ]

    @Test("real first packets", arguments: firstPackets)
    func firstPacket(row: DetectionCase) {
        checkDetection(row)
    }

    @Test("notProxy comes at the first byte that fits neither signature")
    func earliestNotProxy() {
        #expect(detector.detect(ascii("G")) == .notProxy)
        #expect(detector.detect(ascii("PR")) == .needMore)
        #expect(detector.detect(ascii("PRI")) == .notProxy)
        #expect(detector.detect([0x16]) == .notProxy)
        #expect(detector.detect([0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54]) == .needMore)
        #expect(detector.detect(ascii("\r\n\r\n")) == .needMore)
        #expect(detector.detect(ascii("\r\n\r\n\r")) == .notProxy)
    }

    @Test("a committed prefix is invalid as soon as a byte cannot fit")
    func earliestInvalid() {
        #expect(detector.detect(ascii("PROXYX")) == .invalid(.v1MissingSpace(offset: 5)))
        #expect(detector.detect(ascii("PROXY X")) == .invalid(.v1BadProtocol))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 6553")) == .needMore)
        #expect(
            detector.detect(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 65536"))
                == .invalid(.v1PortOutOfRange(.sourcePort, value: 65536)))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 0")) == .needMore)
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 01")) == .invalid(.v1BadPort(.sourcePort)))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3")) == .needMore)
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3 ")) == .invalid(.v1BadAddress(.sourceAddress)))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.300")) == .invalid(.v1BadAddress(.sourceAddress)))
        #expect(detector.detect(ascii("PROXY TCP4 1:")) == .invalid(.v1AddressFamilyMismatch(.sourceAddress)))
        #expect(detector.detect(ascii("PROXY TCP6 ::1:::")) == .invalid(.v1BadAddress(.sourceAddress)))
        #expect(detector.detect(ascii("PROXY TCP6 12345")) == .invalid(.v1BadAddress(.sourceAddress)))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3.4\r")) == .invalid(.v1MissingField(.destinationAddress)))
        #expect(detector.detect(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")) == .needMore)
        // UNKNOWN: the CR of the CRLF may sit at byte 105 at the latest.
        let padding = String(repeating: "z", count: 91)
        #expect(detector.detect(ascii("PROXY UNKNOWN " + padding)) == .needMore)
        #expect(detector.detect(ascii("PROXY UNKNOWN " + padding + "\r")) == .needMore)
        #expect(detector.detect(ascii("PROXY UNKNOWN " + padding + "z")) == .invalid(.v1LineTooLong))
    }

    @Test("every strict prefix of a valid header is needMore", arguments: sampleHeaders.indices)
    func truncations(index: Int) {
        let (name, bytes) = sampleHeaders[index]
        for length in 0..<bytes.count {
            #expect(detector.detect(Array(bytes[0..<length])) == .needMore, "\(name) cut at \(length)")
            #expect(throws: ProxyProtocolError.truncated(available: length)) {
                try detector.parse(Array(bytes[0..<length]))
            }
        }
        guard case .header(_, let consumed) = detector.detect(bytes) else {
            Issue.record("\(name) is not accepted")
            return
        }
        #expect(consumed == bytes.count)
    }

    @Test("bytes delivered one at a time, then with payload behind", arguments: sampleHeaders.indices)
    func dribble(index: Int) {
        let (name, header) = sampleHeaders[index]
        let payload = ascii("GET / HTTP/1.1\r\n\r\n")
        let stream = header + payload
        var received: [UInt8] = []
        var decided: ProxyDetection?
        for byte in stream {
            received.append(byte)
            let result = detector.detect(received)
            if let decided {
                #expect(result == decided, "\(name): the answer changed after \(received.count) bytes")
            } else if result != .needMore {
                #expect(received.count == header.count, "\(name) decided at \(received.count) bytes")
                decided = result
            }
        }
        guard case .header(_, let consumed)? = decided else {
            Issue.record("\(name) was never accepted")
            return
        }
        #expect(Array(stream[consumed...]) == payload)
    }

    @Test("the raw-buffer and array entry points agree, and parse maps needMore and notProxy")
    func entryPoints() throws {
        let bytes = sampleHeaders[0].bytes
        let fromPointer = bytes.withUnsafeBytes { detector.detect($0) }
        #expect(fromPointer == detector.detect(bytes))
        let consumed = bytes.withUnsafeBytes { raw in (try? detector.parse(raw))?.consumed }
        #expect(consumed == bytes.count)
        #expect(throws: ProxyProtocolError.badSignature) { try detector.parse(ascii("GET / HTTP/1.1\r\n")) }
        #expect(throws: ProxyProtocolError.truncated(available: 0)) { try detector.parse([]) }
        #expect(throws: ProxyProtocolError.v1BadProtocol) { try detector.parse(ascii("PROXY TCP9 ")) }
    }

    @Test("the detector reads only the bytes it is given")
    func readsOnlyGivenBytes() {
        // A buffer whose tail is poison: the detector sees a prefix that stops inside a header.
        let header = v2Header(family: 0x11, body: ipv4Block)
        var storage = header + [UInt8](repeating: 0xEE, count: 64)
        storage.withUnsafeMutableBytes { raw in
            for length in 0..<header.count {
                let prefix = UnsafeRawBufferPointer(rebasing: raw[0..<length])
                #expect(detector.detect(prefix) == .needMore)
            }
        }
    }
}
