import ProxyProtocol
import RingwayConfig
import Testing

@Suite("CIDR ranges")
struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"), ("10.1.2.3/8", "10.0.0.0/8"), ("192.168.1.1", "192.168.1.1/32"),
        ("192.168.1.1/32", "192.168.1.1/32"), ("0.0.0.0/0", "0.0.0.0/0"), ("1.2.3.4/0", "0.0.0.0/0"),
        ("::1", "::1/128"), ("::1/128", "::1/128"), ("::/0", "::/0"), ("fd00::/8", "fd00::/8"),
        ("2001:db8::1/32", "2001:db8::/32"), ("::ffff:10.0.0.0/104", "::ffff:10.0.0.0/104"),
        ("10.0.0.0/0", "0.0.0.0/0"),
    ])
    func parses(_ text: String, _ canonical: String) throws {
        let range = try CIDR.parse(text)
        #expect(range.description == canonical)
        #expect(CIDR(text) == range)
    }

    @Test(arguments: [
        ("10.0.0.0/33", CIDRSyntaxError.Reason.prefixLengthOutOfRange(maximum: 32)),
        ("::/129", .prefixLengthOutOfRange(maximum: 128)),
        ("10.0.0.0/", .missingPrefixLength),
        ("10.0.0.0/08", .badPrefixLength),
        ("10.0.0.0/-1", .badPrefixLength),
        ("10.0.0.0/+8", .badPrefixLength),
        ("10.0.0.0/ 8", .badPrefixLength),
        ("10.0.0.0/8/9", .badPrefixLength),
        ("10.0.0.0/0008", .badPrefixLength),
        ("10.0.0/8", .badAddress),
        ("010.0.0.0/8", .badAddress),
        ("[::1]/128", .badAddress),
        ("fe80::1%eth0/64", .badAddress),
        ("example.com/24", .badAddress),
        ("", .badAddress),
        ("/8", .badAddress),
    ])
    func refuses(_ text: String, _ reason: CIDRSyntaxError.Reason) {
        #expect(throws: CIDRSyntaxError(text: text, reason: reason)) { try CIDR.parse(text) }
        #expect(CIDR(text) == nil)
    }

    @Test func errorSaysWhatACIDRLooksLike() {
        #expect(
            CIDRSyntaxError(text: "10.0.0.0/08", reason: .badPrefixLength).description
                == "\"10.0.0.0/08\" is not a CIDR (the prefix length is not a decimal number without leading zeros); "
                + "use e.g. 10.0.0.0/8, fd00::/8 or a single address"
        )
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.255.255", true), ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true), ("10.0.0.0/8", "::ffff:11.0.0.1", false), ("10.0.0.0/8", "::1", false),
        ("10.0.0.0/8", "fd00::1", false), ("10.0.0.0/8", "::a01:203", false),
        ("0.0.0.0/0", "1.2.3.4", true), ("0.0.0.0/0", "::ffff:1.2.3.4", true), ("0.0.0.0/0", "::1", false),
        ("::/0", "::1", true), ("::/0", "1.2.3.4", true),
        ("192.168.1.1/32", "192.168.1.1", true), ("192.168.1.1/32", "192.168.1.2", false),
        ("192.168.1.1/32", "::ffff:192.168.1.1", true),
        ("::1/128", "::1", true), ("::1/128", "::2", false), ("::1/128", "127.0.0.1", false),
        ("fd00::/8", "fdff::1", true), ("fd00::/8", "fe00::1", false),
        ("2001:db8::/33", "2001:db8:7fff::1", true), ("2001:db8::/33", "2001:db8:8000::1", false),
        ("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true), ("2001:db8::/65", "2001:db8::8000:0:0:0", false),
        ("::ffff:10.0.0.0/104", "10.1.1.1", true), ("::ffff:10.0.0.0/104", "11.0.0.1", false),
        ("::ffff:10.0.0.0/104", "::ffff:10.9.9.9", true),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.0", false),
    ])
    func matches(_ range: String, _ address: String, _ expected: Bool) throws {
        let cidr = try CIDR.parse(range)
        let peer = try #require(IPAddress(address))
        #expect(cidr.contains(peer) == expected)
    }

    @Test func trustIsOpenWithoutAList() throws {
        let open = ProxyReceiveConfig()
        #expect(open.trusts(try #require(IPAddress("203.0.113.9"))))
        let closed = ProxyReceiveConfig(trustedProxies: [try CIDR.parse("10.0.0.0/8"), try CIDR.parse("fd00::/8")])
        #expect(closed.trusts(try #require(IPAddress("::ffff:10.0.0.7"))))
        #expect(closed.trusts(try #require(IPAddress("fd12::7"))))
        #expect(!closed.trusts(try #require(IPAddress("203.0.113.9"))))
    }
}
