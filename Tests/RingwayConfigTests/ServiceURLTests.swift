import ProxyProtocol
import RingwayConfig
import Testing

/// One `-L` argument and the services it must produce.
struct ValidServiceURL: Sendable, CustomTestStringConvertible {
    let url: String
    let expected: [ServiceConfig]
    var testDescription: String { url }

    init(_ url: String, _ expected: ServiceConfig...) {
        self.url = url
        self.expected = expected
    }
}

private let eight080 = listen(8080)
private let x80 = [target("x", 80)]

let validServiceURLs: [ValidServiceURL] = [
    // The grammar, from GOST's port-forwarding tutorial.
    .init("tcp://:8080/192.168.1.1:80", forward(eight080, [target("192.168.1.1", 80)])),
    .init(
        "tcp://:8080/192.168.1.1:80,192.168.1.2:80,192.168.1.3:8080",
        forward(eight080, [target("192.168.1.1", 80), target("192.168.1.2", 80), target("192.168.1.3", 8080)])
    ),
    .init(
        "tcp://127.0.0.1:8080/example.com:80",
        forward(listen(8080, on: ip(127, 0, 0, 1)), [target("example.com", 80)])
    ),
    .init("tcp://[::1]:8000/[::1]:9000", forward(listen(8000, on: ipv6Loopback), [target("::1", 9000)])),
    .init("tcp://[::]:8000/:9000", forward(listen(8000), [target("", 9000)])),
    .init("tcp://0.0.0.0:8000/:9000", forward(listen(8000, on: .v4(.any)), [target("", 9000)])),
    .init("tcp://:8000/:8080", forward(listen(8000), [target("", 8080)])),
    .init(
        "tcp://:8080/[::ffff:10.0.0.1]:80",
        forward(eight080, [target("::ffff:10.0.0.1", 80)])
    ),
    .init(
        "tcp://:8080/localhost:80,example.com.:443",
        forward(eight080, [target("localhost", 80), target("example.com.", 443)])
    ),
    // Scheme spellings GOST reads the same way, case and surrounding spaces.
    .init("tcp+tcp://:8080/x:80", forward(eight080, x80)),
    .init("forward://:8080/x:80", forward(eight080, x80)),
    .init("forward+tcp://:8080/x:80", forward(eight080, x80)),
    .init("TCP://:8080/x:80", forward(eight080, x80)),
    .init("  tcp://:8080/x:80\t", forward(eight080, x80)),
    .init("tcp://:8080//x:80/", forward(eight080, x80)),
    .init("tcp://:8080/x:80?", forward(eight080, x80)),
    .init("tcp://:8080/x:080", forward(eight080, x80)),
    // Port ranges.
    .init(
        "tcp://:8080/192.168.1.1:8000-8002",
        forward(eight080, [target("192.168.1.1", 8000), target("192.168.1.1", 8001), target("192.168.1.1", 8002)])
    ),
    .init(
        "tcp://:8000-8001/10.0.0.1:9000",
        forward(listen(8000), [target("10.0.0.1", 9000)]),
        forward(listen(8001), [target("10.0.0.1", 9000)], name: "service-1")
    ),
    // Port i gets target i, named as GOST names it across the list (its `node` log field).
    .init(
        "tcp://:8000-8001/10.0.0.1:9000-9001",
        forward(listen(8000), [named(target("10.0.0.1", 9000), "target-0")]),
        forward(listen(8001), [named(target("10.0.0.1", 9001), "target-1")], name: "service-1")
    ),
    // Receiving PROXY headers.
    .init("tcp://:8080/x:80?proxyProtocol=1", forward(eight080, x80) { $0.receiveProxy = ProxyReceiveConfig() }),
    .init("tcp://:8080/x:80?proxyProtocol=2", forward(eight080, x80) { $0.receiveProxy = ProxyReceiveConfig() }),
    .init(
        "tcp://:8080/x:80?service.proxyProtocol=1",
        forward(eight080, x80) { $0.receiveProxy = ProxyReceiveConfig() }
    ),
    .init("tcp://:8080/x:80?proxyProtocol=0", forward(eight080, x80)),
    .init(
        "tcp://:8080/x:80?proxyProtocol=1&proxyProtocolPolicy=require&trustedProxies=10.0.0.0/8,fd00::/8"
            + "&proxyProtocolTimeout=3s&proxyProtocolMaxHeader=512",
        forward(eight080, x80) {
            $0.receiveProxy = ProxyReceiveConfig(
                policy: .require,
                trustedProxies: [CIDR("10.0.0.0/8"), CIDR("fd00::/8")].compactMap { $0 },
                timeout: .seconds(3),
                maximumHeaderLength: 512
            )
        }
    ),
    .init(
        "tcp://:8080/x:80?proxyProtocol=1&trustedProxies=10.0.0.0%2F8&service.proxyProtocolPolicy=optional",
        forward(eight080, x80) {
            $0.receiveProxy = ProxyReceiveConfig(trustedProxies: [CIDR("10.0.0.0/8")].compactMap { $0 })
        }
    ),
    // Proxy services: GOST's bare form is its auto handler; each scheme names its protocols.
    .init(":8080", proxy(eight080)),
    .init(":8080?proxyProtocol=1", proxy(eight080) { $0.receiveProxy = ProxyReceiveConfig() }),
    .init("auto://127.0.0.1:8080", proxy(listen(8080, on: ip(127, 0, 0, 1)))),
    .init("http://:8080", proxy(eight080, "http", .http)),
    .init("http+tcp://:8080", proxy(eight080, "http", .http)),
    .init("socks5://:1080", proxy(listen(1080), "socks5", .socks5)),
    .init("socks://:1080", proxy(listen(1080), "socks5", .socks5)),
    .init("socks4://:1080", proxy(listen(1080), "socks4", .socks4)),
    .init("socks4a://:1080", proxy(listen(1080), "socks4", .socks4)),
    .init(
        "http://alice:s%40cret+x@:8080",
        proxy(eight080, "http", .http) { $0.credentials = Credentials(user: "alice", password: "s@cret+x") }
    ),
    .init("socks5://bob@:1080", proxy(listen(1080), "socks5", .socks5) { $0.credentials = Credentials(user: "bob", password: "") }),
    .init(
        ":8080?handshakeTimeout=3s&dialTimeout=2s&idleTimeout=1m&maxConnections=10&splice=on&handler.proxyProtocol=2",
        proxy(eight080) {
            $0.handshakeTimeout = .seconds(3)
            $0.connectTimeout = .seconds(2)
            $0.idleTimeout = .seconds(60)
            $0.maxConnections = 10
            $0.splice = true
            $0.sendProxy = ProxySendConfig(version: .v2)
        }
    ),
    // GOST's rtcp without a chain forwards locally, like tcp://.
    .init("rtcp://:8080/:8000?handler.proxyProtocol=1", forward(eight080, [target("", 8000)]) {
        $0.handler = "rtcp"
        $0.sendProxy = ProxySendConfig(version: .v1)
    }),
    // Sending PROXY headers.
    .init(
        "tcp://:8080/:8000?handler.proxyProtocol=1",
        forward(eight080, [target("", 8000)]) { $0.sendProxy = ProxySendConfig(version: .v1) }
    ),
    .init(
        "tcp://:8080/x:80?HANDLER.PROXYPROTOCOL=2",
        forward(eight080, x80) { $0.sendProxy = ProxySendConfig(version: .v2) }
    ),
    .init("tcp://:8080/x:80?handler.proxyProtocol=0", forward(eight080, x80)),
    .init(
        "tcp://:8080/x:80?handler.proxyProtocol=2&proxyProtocolTLV.uniqueId=true"
            + "&handler.proxyProtocolTLV.crc32c=1&proxyProtocolTLV.passthrough=on",
        forward(eight080, x80) {
            $0.sendProxy = ProxySendConfig(version: .v2, uniqueID: true, crc32c: true, passthroughTLVs: true)
        }
    ),
    .init(
        "tcp://:8080/x:80?handler.proxyProtocol=2&proxyProtocolTLV.uniqueId=false",
        forward(eight080, x80) { $0.sendProxy = ProxySendConfig(version: .v2) }
    ),
    .init(
        "tcp://:8080/x:80?proxyProtocol=1&handler.proxyProtocol=2",
        forward(eight080, x80) {
            $0.receiveProxy = ProxyReceiveConfig()
            $0.sendProxy = ProxySendConfig(version: .v2)
        }
    ),
    // Timeouts and limits.
    .init(
        "tcp://:8080/x:80?dialTimeout=5s&idleTimeout=1m30s&maxConnections=1000&splice=on",
        forward(eight080, x80) {
            $0.connectTimeout = .seconds(5)
            $0.idleTimeout = .seconds(90)
            $0.maxConnections = 1000
            $0.splice = true
        }
    ),
    .init("tcp://:8080/x:80?dialTimeout=30", forward(eight080, x80) { $0.connectTimeout = .seconds(30) }),
    .init(
        "tcp://:8080/x:80?service.dialTimeout=250ms",
        forward(eight080, x80) { $0.connectTimeout = .milliseconds(250) }
    ),
    .init("tcp://:8080/x:80?dialTimeout=0", forward(eight080, x80) { $0.connectTimeout = .seconds(15) }),
    .init("tcp://:8080/x:80?idleTimeout=0", forward(eight080, x80) { $0.idleTimeout = .zero }),
    .init("tcp://:8080/x:80?handler.idleTimeout=2h", forward(eight080, x80) { $0.idleTimeout = .seconds(7200) }),
    .init("tcp://:8080/x:80?splice=TRUE", forward(eight080, x80) { $0.splice = true }),
    .init("tcp://:8080/x:80?splice=0", forward(eight080, x80)),
    // GOST: selector keys in the query make failTimeout default 30s.
    .init("tcp://:8080/x:80?strategy=round", forward(eight080, x80) { $0.health.failTimeout = .seconds(30) }),
    .init("tcp://:8080/x:80?strategy=rr", forward(eight080, x80) { $0.health.failTimeout = .seconds(30) }),
    // The diagnostic service.
    .init("whoami://:8080", whoami(eight080)),
    .init("whoami://:8080/", whoami(eight080)),
    .init(
        "whoami://[::1]:8080?proxyProtocol=1&trustedProxies=127.0.0.1&maxConnections=10",
        whoami(listen(8080, on: ipv6Loopback)) {
            $0.receiveProxy = ProxyReceiveConfig(trustedProxies: [CIDR("127.0.0.1/32")].compactMap { $0 })
            $0.maxConnections = 10
        }
    ),
]

@Suite("-L service URLs")
struct ServiceURLTests {
    @Test(arguments: validServiceURLs)
    func parses(_ testCase: ValidServiceURL) throws {
        let services = try ServiceURL.parse(testCase.url)
        #expect(services == testCase.expected)
    }

    @Test func numbersServicesFromFirstIndex() throws {
        let services = try ServiceURL.parse("tcp://:8000-8002/x:80", firstIndex: 4)
        #expect(services.map(\.name) == ["service-4", "service-5", "service-6"])
    }

    @Test func defaultsAreGOSTs() throws {
        let service = try #require(try ServiceURL.parse("tcp://:8080/x:80?proxyProtocol=1").first)
        #expect(service.connectTimeout == .seconds(15))  // GOST's router default
        #expect(service.receiveProxy?.timeout == .seconds(10))  // GOST's PROXY ReadHeaderTimeout
        #expect(service.receiveProxy?.policy == .optional)  // GOST: a header is optional
        #expect(service.receiveProxy?.maximumHeaderLength == 4096)
        #expect(service.receiveProxy?.trustedProxies.isEmpty == true)
        #expect(service.idleTimeout == .seconds(300))
        #expect(service.maxConnections == nil)
        #expect(service.splice == false)
    }

    @Test func targetDescriptionsBracketIPv6() throws {
        let service = try #require(try ServiceURL.parse("tcp://[::1]:8000/[::1]:9000,:80,a.b:1").first)
        #expect(service.targets.map(\.description) == ["[::1]:9000", ":80", "a.b:1"])
        #expect(service.listen.description == "[::1]:8000")
    }
}

/// `target` with a node name.
private func named(_ target: TargetAddress, _ name: String) -> TargetAddress {
    var copy = target
    copy.name = name
    return copy
}
