import RingwayConfig
import Testing

/// One `-L` argument that must be refused, and a fragment its message must contain.
struct InvalidServiceURL: Sendable, CustomTestStringConvertible {
    let url: String
    let fragment: String
    var testDescription: String { url }

    init(_ url: String, _ fragment: String) {
        self.url = url
        self.fragment = fragment
    }
}

private let base = "tcp://:8080/x:80?"

let invalidServiceURLs: [InvalidServiceURL] = [
    // The URL itself.
    .init("", "is empty"),
    .init("   ", "is empty"),
    .init("127.0.0.1:8080/x:80", "auto:// takes no target"),
    .init("http://:8080/x:80", "http:// takes no target"),
    .init("socks5://:1080/x:80", "socks5:// takes no target"),
    .init("http2://:8080", "scheme http2 (an HTTP/2 proxy) is not supported; Ringway supports tcp://"),
    .init("socks5+tls://:1080", "scheme socks5+tls (a SOCKS5 proxy over a TLS transport)"),
    .init("udp://:10053/1.1.1.1:53", "scheme udp (UDP port forwarding)"),
    .init("rtcp://:8080", "has no target"),
    .init("http://:u@:8080", "expected a user name before the ':'"),
    .init("http://a%3Ab:c@:8080", "a user name without ':' (RFC 7617)"),
    .init("http://a%ZZ:b@:8080", "bad percent escape"),
    .init("socks5://a:b@:1080?handler.proxyProtocolTLV.passthrough=true&handler.proxyProtocol=2",
          "key handler.proxyProtocolTLV.passthrough has no effect on socks5:// services"),
    .init(":8080?requestTimeout=5s", "key requestTimeout has no effect on auto:// services"),
    .init(":8080?strategy=round", "key strategy has no effect on auto:// services"),
    .init("tcp://:8080/x:80?handshakeTimeout=5s", "key handshakeTimeout has no effect on tcp:// services"),
    .init(":8080?handshakeTimeout=0s", "handshakeTimeout=0s is not valid"),
    .init("tcp+tls://:8443/x:80", "scheme tcp+tls (a TLS transport)"),
    .init("1tcp://:8080/x:80", "unexpected '1' in the scheme"),
    .init("tcp://user:pass@:8080/x:80", "user:password@ is not supported"),
    .init("whoami://user:pass@:8080", "user:password@ is not supported"),
    .init("tcp://:8080/x:80#top", "unexpected '#'"),
    .init("tcp://:8080/x:80, y:80", "unexpected ' '"),
    // Addresses and ports.
    .init("tcp://:99999/x:80", "port 99999 is out of range 1-65535"),
    .init("tcp://:0/x:80", "port 0 is out of range 1-65535"),
    .init("tcp://:8080/x:0", "target port 0 is GOST's placeholder for a -F forward://HOST:PORT node"),
    .init("tcp://:8080/:0", "target port 0 is GOST's placeholder"),
    .init("tcp://:8080/x:65536", "port 65536 is out of range 1-65535"),
    .init("tcp://:8080/x:123456789012345", "port 123456789012345 is out of range"),
    .init("tcp://:http/x:80", "port \"http\" is not a number"),
    .init("tcp://:8080/x:", "port \"\" is not a number"),
    .init("tcp://:8080/x", "\"x\" has no port"),
    .init("tcp://8080/x:80", "\"8080\" has no port"),
    .init("tcp://:8090-8080/x:80", "port range 8090-8080 is not valid"),
    .init("tcp://:8080/x:0-5", "port range 0-5 is not valid"),
    .init("tcp://:8080/::1:80", "expected an IPv6 address in brackets"),
    .init("tcp://[::1:8080/x:80", "with a closing bracket"),
    .init("tcp://[::1]8080/x:80", "\"[::1]8080\" has no port"),
    .init("tcp://[fe80::1%25eth0]:8080/x:80", "no zone id"),
    .init("tcp://[1.2.3.4]:8080/x:80", "an IPv6 address inside [ ]"),
    .init("tcp://localhost:8080/x:80", "host \"localhost\" is not valid; expected an IP address, or nothing"),
    .init("tcp://:8080/010.0.0.1:80", "without leading zeros"),
    .init("tcp://:8080/1.2.3:80", "without leading zeros"),
    .init("tcp://:8080/bad!host:80", "an IP address or a DNS name"),
    .init("tcp://:8080/-bad.example:80", "an IP address or a DNS name"),
    .init("tcp://:8080/a..b:80", "an IP address or a DNS name"),
    // Targets.
    .init("tcp://:8080", "has no target; use tcp://:PORT/HOST:PORT"),
    .init("tcp://:8080/", "has no target"),
    .init("tcp://:8080/?proxyProtocol=1", "has no target"),
    .init("tcp://:8080/a:1,,b:2", "an empty entry in its target list"),
    .init("tcp://:8080/a:1,", "an empty entry in its target list"),
    .init("tcp://:8000-8002/a:1,b:2", "3 ports need 1 or 3 targets, not 2"),
    .init("whoami://:8080/x:80", "whoami:// takes no target"),
    // Keys.
    .init(base + "foo=bar", "unknown key foo; known keys: proxyProtocol, proxyProtocolPolicy"),
    .init(base + "connectTimeout=5s", "unknown key connectTimeout (did you mean dialTimeout?)"),
    .init(base + "hop.proxyProtocol=1", "unknown key hop.proxyProtocol"),
    .init(base + "proxyProtocol=1&proxyProtocol=1", "key proxyProtocol is given more than once"),
    .init(base + "proxyProtocol=1&service.proxyProtocol=2", "key service.proxyProtocol is given more than once"),
    .init(base + "splice=on&Splice=off", "key Splice is given more than once"),
    .init(base + "proxyProtocol=3", "proxyProtocol=3 is not valid; expected 1 or 2 (0 = off)"),
    .init(base + "proxyProtocol=true", "proxyProtocol=true is not valid; expected 1 or 2"),
    .init(base + "proxyProtocol=", "proxyProtocol= is not valid; expected 1 or 2 (an empty value would mean off in GOST"),
    .init(":8080?proxyProtocol=", "proxyProtocol= is not valid; expected 1 or 2 (an empty value would mean off in GOST"),
    .init(base + "proxyProtocol", "proxyProtocol= is not valid"),
    .init(base + "handler.proxyProtocol=v2", "handler.proxyProtocol=v2 is not valid; expected 1 or 2 (0 = off)"),
    .init(
        base + "listener.proxyProtocol=1",
        "key listener.proxyProtocol has no effect in that scope; use proxyProtocol=1 to receive or "
            + "handler.proxyProtocol=1|2 to send"
    ),
    .init(base + "handler.dialTimeout=5s", "use dialTimeout or service.dialTimeout"),
    .init(base + "service.splice=on", "use splice or handler.splice"),
    .init(base + "listener.idleTimeout=5s", "use idleTimeout or handler.idleTimeout"),
    .init(base + "handler.strategy=round", "use strategy without a prefix"),
    .init(base + "service.proxyProtocolTLV.passthrough=1", "use proxyProtocolTLV.passthrough or handler."),
    // Values and combinations.
    .init(base + "proxyProtocolPolicy=require", "proxyProtocolPolicy needs proxyProtocol=1"),
    .init(base + "proxyProtocol=0&trustedProxies=10.0.0.0/8", "trustedProxies needs proxyProtocol=1"),
    .init(
        base + "proxyProtocol=1&proxyProtocolPolicy=strict",
        "proxyProtocolPolicy=strict is not valid; expected optional or require"
    ),
    .init(
        base + "proxyProtocol=1&trustedProxies=10.0.0.0/33",
        "trustedProxies: \"10.0.0.0/33\" is not a CIDR (the prefix length is out of range 0-32)"
    ),
    .init(base + "proxyProtocol=1&trustedProxies=10.0.0.0/8,", "\"\" is not a CIDR"),
    .init(base + "proxyProtocol=1&trustedProxies=", "\"\" is not a CIDR (the address is not IPv4 or IPv6)"),
    .init(
        base + "proxyProtocol=1&proxyProtocolTimeout=5x",
        "proxyProtocolTimeout: \"5x\" is not a duration: use e.g. 300ms, 5s, 1m30s"
    ),
    .init(base + "proxyProtocol=1&proxyProtocolTimeout=0s", "expected a duration of at least 1ms"),
    .init(base + "proxyProtocol=1&proxyProtocolMaxHeader=100", "expected an integer from 232 to 65551 bytes"),
    .init(base + "proxyProtocol=1&proxyProtocolMaxHeader=4k", "proxyProtocolMaxHeader=4k is not valid"),
    .init(base + "proxyProtocolTLV.uniqueId=true", "proxyProtocolTLV.uniqueId needs handler.proxyProtocol=2"),
    .init(
        base + "handler.proxyProtocol=1&proxyProtocolTLV.crc32c=true",
        "proxyProtocolTLV.crc32c needs PROXY protocol v2 (handler.proxyProtocol=2); v1 headers carry no TLVs"
    ),
    .init(base + "handler.proxyProtocol=2&proxyProtocolTLV.uniqueId=yes please", "unexpected ' '"),
    .init(base + "handler.proxyProtocol=2&proxyProtocolTLV.uniqueId=maybe", "expected true or false"),
    .init(base + "dialTimeout=-1s", "dialTimeout=-1s is not valid; expected a duration of 0s or more"),
    .init(base + "dialTimeout=1h30", "dialTimeout: \"1h30\" is not a duration"),
    .init(base + "idleTimeout=forever", "idleTimeout: \"forever\" is not a duration"),
    .init(base + "maxConnections=0", "maxConnections=0 is not valid; expected an integer from 1 to 2147483647"),
    .init(base + "maxConnections=ten", "maxConnections=ten is not valid"),
    .init(base + "splice=maybe", "splice=maybe is not valid; expected true or false (also 1/0, on/off)"),
    .init(base + "strategy=random", "strategy=random is not valid; expected round or rr"),
    .init(
        base + "climiter=100",
        "key climiter is a GOST option Ringway does not support; GOST closes connections over the limit"
    ),
    // Target health: GOST's selector keys and Ringway's probe.
    .init(base + "maxFails=0", "maxFails=0 is not valid; expected an integer from 1 to 2147483647 (failures in a row)"),
    .init(base + "maxFails=three", "maxFails=three is not valid; expected an integer"),
    .init(base + "maxFails=2&max_fails=3", "key max_fails is given more than once"),
    .init(base + "failTimeout=0", "failTimeout=0 is not valid; expected a duration of at least 1ms, e.g. 10s (GOST reads 0 as its default)"),
    .init(base + "fail_timeout=-1s", "fail_timeout=-1s is not valid"),
    .init(base + "failTimeout=soon", "failTimeout: \"soon\" is not a duration"),
    .init(base + "probeInterval=50ms", "probeInterval=50ms is not valid; expected a duration of at least 100ms, e.g. 5s"),
    .init(base + "probeInterval=1s&probeTimeout=0", "probeTimeout=0 is not valid; expected a duration of at least 1ms"),
    .init(base + "probeTimeout=1s", "probeTimeout needs probeInterval (the probe runs only with an interval)"),
    .init(base + "handler.maxFails=2", "key handler.maxFails has no effect in that scope; use maxFails without a prefix"),
    .init(base + "handler.probeInterval=2s", "use probeInterval or service.probeInterval"),
    .init(":8080?maxFails=2", "key maxFails has no effect on auto:// services"),
    .init("whoami://:8080?probeInterval=1s", "key probeInterval has no effect on whoami:// services"),
    .init(base + "retries=2", "key retries is a GOST option Ringway does not support; Ringway tries each target once per connection"),
    .init(base + "handler.retries=2", "key handler.retries is a GOST option Ringway does not support"),
    .init(base + "limiter.in=10MB", "key limiter.in is a GOST option Ringway does not support"),
    .init(base + "trustedProxies=%zz", "\"%zz\" has a bad percent escape"),
    .init(base + "proxyProtocol=1;splice=on", "unexpected ';' in the query"),
    .init(base + "=1", "a key is missing"),
    .init("whoami://:8080?handler.proxyProtocol=1", "key handler.proxyProtocol has no effect on whoami:// services"),
    .init("whoami://:8080?dialTimeout=1s", "key dialTimeout has no effect on whoami:// services"),
]

@Suite("-L errors")
struct ServiceURLErrorTests {
    @Test(arguments: invalidServiceURLs)
    func refuses(_ testCase: InvalidServiceURL) throws {
        let error = try #require(problem { () throws(ConfigurationError) in try ServiceURL.parse(testCase.url) })
        #expect(error.description.contains(testCase.fragment), "\(error.description)")
        #expect(error.origin == .serviceURL(testCase.url))
        #expect(!error.description.contains("\n"))
    }

    @Test func messageNamesTheArgumentAndWhatIsExpected() {
        let error = problem { () throws(ConfigurationError) in try ServiceURL.parse("tcp://:99999/x:80") }
        #expect(error?.description == "-L \"tcp://:99999/x:80\": port 99999 is out of range 1-65535")
        #expect(error?.problem == .portOutOfRange("99999"))
    }

    @Test func unknownKeyListsEveryKnownKey() {
        let error = problem { () throws(ConfigurationError) in try ServiceURL.parse("tcp://:1/x:1?nope=1") }
        guard case .unknownKey(let key, let known, _) = error?.problem else {
            Issue.record("expected unknownKey, got \(String(describing: error))")
            return
        }
        #expect(key == "nope")
        #expect(
            known == [
                "proxyProtocol", "proxyProtocolPolicy", "trustedProxies", "proxyProtocolTimeout",
                "proxyProtocolMaxHeader",
                "handler.proxyProtocol", "proxyProtocolTLV.uniqueId", "proxyProtocolTLV.crc32c",
                "proxyProtocolTLV.passthrough", "dialTimeout", "idleTimeout", "maxConnections", "splice", "strategy",
                "requestTimeout", "handshakeTimeout", "maxFails", "failTimeout", "probeInterval", "probeTimeout",
            ]
        )
    }
}
