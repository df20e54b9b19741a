#if canImport(Glibc)
    import Glibc
    import ProxyProtocol
    import RingwayTestSupport
    import Testing

    /// The address parsers against glibc's `inet_pton`, which is strict in the same way (four decimal
    /// parts without leading zeros; hex groups of one to four digits, one "::" standing for at least
    /// one group, an optional trailing dotted quad).
    @Suite("address parsers against inet_pton")
    struct AddressDifferentialTests {
        private static func systemIPv4(_ text: String) -> IPv4Address? {
            var address = in_addr()
            guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
            return IPv4Address(UInt32(bigEndian: address.s_addr))
        }

        private static func systemIPv6(_ text: String) -> IPv6Address? {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard bytes.withUnsafeMutableBytes({ inet_pton(AF_INET6, text, $0.baseAddress) }) == 1 else { return nil }
            let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return IPv6Address(high: high, low: low)
        }

        /// Text near the valid forms: a random address in one of its spellings, then zero to three
        /// edits from an alphabet of the characters that matter.
        private static func candidate(using rng: inout SplitMix64) -> String {
            var text: [UInt8]
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: text = ascii(IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)).description)
            case 1: text = ascii(randomIPv6(using: &rng).description)
            case 2:
                let address = randomIPv6(using: &rng)
                text = ascii((0..<8).map { String(address.group($0), radix: 16) }.joined(separator: ":"))
            default:
                var buffer = [UInt8](repeating: 0, count: 39)
                let address = randomIPv6(using: &rng)
                let length = buffer.withUnsafeMutableBytes { address.writeText(into: $0, at: 0) }
                text = Array(buffer[0..<length])
            }
            let alphabet = ascii("0123456789abcdefABCDEFg:.:.0 %")
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let position = Int.random(in: 0...text.count, using: &rng)
                let character = alphabet.randomElement(using: &rng)!
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: text.insert(character, at: position)
                case 1 where position < text.count: text.remove(at: position)
                case 2 where position < text.count: text[position] = character
                default: text.append(character)
                }
            }
            return String(decoding: text, as: UTF8.self)
        }

        @Test("50,000 near-valid texts get the same answer from both")
        func agreeWithSystem() {
            var rng = SplitMix64(seed: 0x1E7_0A70)
            var accepted = 0
            for _ in 0..<50_000 {
                let text = Self.candidate(using: &rng)
                #expect(IPv4Address(text) == Self.systemIPv4(text), "IPv4 \(text)")
                let system = Self.systemIPv6(text)
                #expect(IPv6Address(text, allowEmbeddedIPv4: true) == system, "IPv6 \(text)")
                if system != nil { accepted += 1 }
            }
            // The mutations must leave enough valid texts for the comparison to mean something.
            #expect(accepted > 10_000)
        }

        /// The v1 parser validates addresses in its own single pass; it must agree with the address
        /// types' parsers (IPv6 without the embedded dotted quad the v1 spec leaves out).
        @Test("the v1 line parser accepts exactly the addresses the address parsers accept")
        func v1FieldsAgree() {
            var rng = SplitMix64(seed: 0xF1E1D)
            var acceptedIPv6 = 0
            for _ in 0..<30_000 {
                let text = Self.candidate(using: &rng)
                guard !text.utf8.contains(where: { $0 == UInt8(ascii: " ") }) else { continue }
                let ipv4 = IPv4Address(text)
                let ipv6 = IPv6Address(text, allowEmbeddedIPv4: false)
                switch detector.detect(ascii("PROXY TCP4 \(text) 1.1.1.1 1 2\r\n")) {
                case .header(let header, _):
                    guard case .ipv4(let source, _, _, _) = header.addresses, source == ipv4 else {
                        Issue.record("TCP4 \(text): \(header.addresses), expected \(String(describing: ipv4))")
                        continue
                    }
                default:
                    #expect(ipv4 == nil, "TCP4 rejected \(text)")
                }
                switch detector.detect(ascii("PROXY TCP6 ::1 \(text) 1 2\r\n")) {
                case .header(let header, _):
                    acceptedIPv6 += 1
                    guard case .ipv6(_, let destination, _, _) = header.addresses, destination == ipv6 else {
                        Issue.record("TCP6 \(text): \(header.addresses), expected \(String(describing: ipv6))")
                        continue
                    }
                default:
                    #expect(ipv6 == nil, "TCP6 rejected \(text)")
                }
            }
            #expect(acceptedIPv6 > 5_000)
        }
    }
#endif
