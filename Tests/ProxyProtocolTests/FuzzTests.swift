import ProxyProtocol
import RingwayTestSupport
import Testing

/// Seeded random and mutated inputs through the detector and the parsers: nothing may crash, every
/// accepted header must be a fixed point of encode/parse, and a decision must never change as more
/// bytes arrive.
@Suite("fuzz")
struct FuzzTests {
    static let iterations = 120_000

    /// Valid headers to mutate: the samples plus freshly encoded random ones.
    private static func seeds(using rng: inout SplitMix64) -> [[UInt8]] {
        var seeds = sampleHeaders.map(\.bytes)
        for _ in 0..<40 {
            let source = IPEndpoint(
                address: .v6(randomIPv6(using: &rng)), port: UInt16.random(in: 0...UInt16.max, using: &rng))
            let destination = IPEndpoint(
                address: .v4(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng))),
                port: UInt16.random(in: 0...9, using: &rng))
            let tlvs = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                ProxyTLV(
                    type: [ProxyTLV.alpn, ProxyTLV.authority, ProxyTLV.uniqueID, ProxyTLV.noop, ProxyTLV.netns, 0xE5]
                        .randomElement(using: &rng)!,
                    value: (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                )
            }
            let version: ProxyProtocolVersion = Bool.random(using: &rng) ? .v1 : .v2
            let header = ProxyHeader.tcp(source: source, destination: destination, version: version, tlvs: tlvs)
            seeds.append(try! ProxyHeaderEncoder.encode(header, appendingCRC32C: Bool.random(using: &rng)))
        }
        return seeds
    }

    private static func mutate(_ input: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !bytes.isEmpty: bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &rng)
            case 2: bytes.insert(interestingByte(using: &rng), at: position)
            case 3 where !bytes.isEmpty: bytes.remove(at: position)
            case 4: bytes = Array(bytes[0..<Int.random(in: 0...bytes.count, using: &rng)])
            case 5 where bytes.count >= 16 && bytes[0] == 0x0D:
                // Nudge the v2 length field.
                let length = Int(bytes[14]) << 8 | Int(bytes[15])
                let tweaked = max(0, min(0xFFFF, length + Int.random(in: -8...8, using: &rng)))
                bytes[14] = UInt8(tweaked >> 8)
                bytes[15] = UInt8(tweaked & 0xFF)
            case 6 where bytes.count > 17 && bytes[0] == 0x0D:
                // Nudge a TLV length byte somewhere after the fixed part.
                let index = Int.random(in: 16..<bytes.count, using: &rng)
                bytes[index] = bytes[index] &+ UInt8.random(in: 1...3, using: &rng)
            default:
                bytes.append(contentsOf: ascii("GET / HTTP/1.1\r\n"))
            }
        }
        return bytes
    }

    /// Bytes that sit on the parsers' decision edges.
    private static func interestingByte(using rng: inout SplitMix64) -> UInt8 {
        let edges = ascii(" \r\n.:0123456789abcdefXPROXY\u{7F}") + [0x00, 0xFF, 0x20, 0x21, 0x11]
        return Bool.random(using: &rng) ? edges.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
    }

    private static func randomInput(using rng: inout SplitMix64) -> [UInt8] {
        let prefix: [UInt8]
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: prefix = ascii("PROXY ")
        case 1: prefix = ascii(["PROXY TCP4 ", "PROXY TCP6 ", "PROXY UNKNOWN"].randomElement(using: &rng)!)
        case 2:
            prefix =
                v2Signature + [
                    0x20 | UInt8.random(in: 0...1, using: &rng),
                    [0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32].randomElement(using: &rng)!, 0,
                ]
        default: prefix = []
        }
        let count = Int.random(in: 0...120, using: &rng)
        return prefix + (0..<count).map { _ in interestingByte(using: &rng) }
    }

    @Test("120,000 random and mutated inputs")
    func fuzz() throws {
        var rng = SplitMix64(seed: 0x5EED_F022)
        let seeds = Self.seeds(using: &rng)
        var outcomes: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            let input =
                iteration % 4 == 0
                ? Self.randomInput(using: &rng) : Self.mutate(seeds.randomElement(using: &rng)!, using: &rng)
            let result = detector.detect(input)
            outcomes[Self.label(result), default: 0] += 1

            // A decision on a prefix is final.
            if !input.isEmpty {
                let cut = Int.random(in: 0..<input.count, using: &rng)
                let early = detector.detect(Array(input[0..<cut]))
                #expect(
                    early == .needMore || early == result, "prefix \(cut) of \(input) said \(early), all said \(result)"
                )
            }

            guard case .header(let header, let consumed) = result else { continue }
            #expect(consumed > 0 && consumed <= input.count)
            let encoded = try ProxyHeaderEncoder.encode(header)
            #expect(detector.detect(encoded) == .header(header, consumed: encoded.count), "not a fixed point: \(input)")
            if header.version == .v2 && header.addresses != .unspecified
                || header.version == .v1 && header.command == .proxy && header.addresses.isIPv4
            {
                #expect(encoded == Array(input[0..<consumed]), "re-encoding differs: \(input)")
            }
            if let ssl = header.tlv(ofType: ProxyTLV.ssl) {
                #expect(throws: Never.self) { try ProxySSLInfo(parsing: ssl) }
            }
        }
        // Every kind of outcome must have been reached for the run to mean something.
        for label in ["header v1", "header v2", "needMore", "notProxy", "invalid v1", "invalid v2"] {
            #expect(outcomes[label, default: 0] > 500, "\(label): \(outcomes)")
        }
    }

    /// Half the inputs are well-formed SSL TLVs (client byte, verify word, sub-TLVs whose lengths
    /// add up), which must all parse and round-trip; the other half random bytes, of which most
    /// must be refused. A parser that refused everything, or accepted everything, fails.
    @Test("well-formed and random TLVs through the SSL parser")
    func sslParser() {
        var rng = SplitMix64(seed: 0x55_1C0DE)
        var (accepted, refused) = (0, 0)
        for round in 0..<20_000 {
            var value: [UInt8]
            let wellFormed = round % 2 == 0
            if wellFormed {
                value = (0..<5).map { _ in UInt8.random(in: 0...255, using: &rng) }
                for _ in 0..<Int.random(in: 0...3, using: &rng) {
                    let payload = (0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0x20...0x7E, using: &rng) }
                    value += [UInt8.random(in: 0x21...0x25, using: &rng), 0, UInt8(payload.count)] + payload
                }
            } else {
                value = (0..<Int.random(in: 0...24, using: &rng)).map { _ in UInt8.random(in: 0...8, using: &rng) }
            }
            let tlv = ProxyTLV(type: ProxyTLV.ssl, value: value)
            if let info = try? ProxySSLInfo(parsing: tlv) {
                accepted += 1
                #expect(info.tlv == tlv)
            } else {
                refused += 1
                #expect(!wellFormed, "a well-formed SSL TLV was refused: \(value)")
            }
        }
        #expect(accepted >= 10_000, "accepted \(accepted)")
        #expect(refused >= 5_000, "refused \(refused)")
    }

    private static func label(_ detection: ProxyDetection) -> String {
        switch detection {
        case .needMore: return "needMore"
        case .notProxy: return "notProxy"
        case .header(let header, _): return header.version == .v1 ? "header v1" : "header v2"
        case .invalid(let error): return "\(error.code.name)".hasPrefix("v1") ? "invalid v1" : "invalid v2"
        }
    }
}

extension ProxyAddresses {
    fileprivate var isIPv4: Bool {
        if case .ipv4 = self { return true }
        return false
    }
}
