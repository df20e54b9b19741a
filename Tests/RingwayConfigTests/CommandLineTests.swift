import Glibc
import ProxyProtocol
import RingwayConfig
import Testing

@Suite("-F hops")
struct ChainHopTests {
    @Test(arguments: [
        ("forward://10.0.0.1:9000", ChainHop(targets: [target("10.0.0.1", 9000)])),
        ("forward+tcp://a:1,b:2?proxyProtocol=2", ChainHop(targets: [target("a", 1), target("b", 2)], sendProxy: .v2)),
        ("forward://[::1]:9000?hop.proxyProtocol=1", ChainHop(targets: [target("::1", 9000)], sendProxy: .v1)),
        // GOST: a query with selector keys defaults failTimeout to 30s (10s without any).
        ("forward://:9000-9001?strategy=round", {
            var hop = ChainHop(targets: [target("", 9000), target("", 9001)])
            hop.health.failTimeout = .seconds(30)
            return hop
        }()),
        ("FORWARD://h:1?proxyProtocol=0", ChainHop(targets: [target("h", 1)])),
        // GOST's proxy connectors; no scheme is its http connector.
        ("10.0.0.1:8080", ChainHop(.http, targets: [target("10.0.0.1", 8080)])),
        ("http://:8000?proxyProtocol=1", ChainHop(.http, targets: [target("", 8000)], sendProxy: .v1)),
        (
            "http://user:p%40ss@1.2.3.4:8080",
            ChainHop(.http, targets: [target("1.2.3.4", 8080)], credentials: Credentials(user: "user", password: "p@ss"))
        ),
        ("http+tcp://h:3128", ChainHop(.http, targets: [target("h", 3128)])),
        ("socks5://1.2.3.4:1080", ChainHop(.socks5, targets: [target("1.2.3.4", 1080)])),
        ("socks://a:b@h:1080?hop.proxyProtocol=2", ChainHop(.socks5, targets: [target("h", 1080)], credentials: Credentials(user: "a", password: "b"), sendProxy: .v2)),
        ("socks4a://h:1080", ChainHop(.socks4, targets: [target("h", 1080)])),
    ])
    func parses(_ text: String, _ expected: ChainHop) throws {
        #expect(try ChainHop(parsing: text) == expected)
    }

    @Test(arguments: [
        ("tcp://1.2.3.4:80", "scheme tcp (an HTTP proxy hop over tcp: GOST has no tcp connector)"),
        ("forward+tls://1.2.3.4:443", "scheme forward+tls (a forward hop over GOST's tls transport)"),
        ("relay+ws://1.2.3.4:80", "scheme relay+ws (a GOST relay hop)"),
        ("http2://1.2.3.4:443", "scheme http2 (an HTTP/2 proxy hop)"),
        ("forward://u:p@1.2.3.4:80", "user:password@ is not supported"),
        ("socks4://u@1.2.3.4:1080", "Ringway sends SOCKS4 hops an empty user id"),
        ("http://1.2.3.4:80/5.6.7.8:80", "takes no /TARGET part"),
        ("forward://", "has no target; use forward://HOST:PORT"),
        ("http://", "has no target; use http://HOST:PORT"),
        ("forward://a:1,,b:2", "an empty entry"),
        ("forward://1.2.3.4:80?proxyProtocol=3", "proxyProtocol=3 is not valid; expected 1 or 2 (0 = off)"),
        ("http://1.2.3.4:80?proxyProtocol=", "an empty value would mean off in GOST"),
        ("forward://1.2.3.4:80?interface=eth0", "key interface is a GOST option Ringway does not support"),
        ("forward://1.2.3.4:80?dialer.proxyProtocol=1", "(GOST's dialer reads none)"),
        ("forward://1.2.3.4:80?hop.strategy=round", "unknown key hop.strategy"),
        ("forward://1.2.3.4:80?proxyProtocol=1&hop.proxyProtocol=2", "key hop.proxyProtocol is given more than once"),
        ("forward://1.2.3.4:80?strategy=fifo", "strategy=fifo is not valid; expected round or rr"),
    ])
    func refuses(_ text: String, _ fragment: String) throws {
        let error = try #require(problem { () throws(ConfigurationError) in try ChainHop(parsing: text) })
        #expect(error.description.hasPrefix("-F \"\(text)\": "))
        #expect(error.description.contains(fragment), "\(error.description)")
    }

    /// Each -F is one hop, in order; the first hop's nodes are dialled and the targets go to the last.
    @Test func hopsChainInOrder() throws {
        let configuration = try RingwayConfiguration(
            serviceURLs: [":8080", "tcp://:8081/example.com:80", "whoami://:8082"],
            nodeURLs: ["http://10.0.0.1:3128?proxyProtocol=1", "socks5://u:p@10.0.0.2:1080"])
        let hops = [
            ChainHop(.http, targets: [target("10.0.0.1", 3128)], sendProxy: .v1),
            ChainHop(.socks5, targets: [target("10.0.0.2", 1080)], credentials: Credentials(user: "u", password: "p")),
        ]
        #expect(configuration.services[0].chain == hops)
        #expect(configuration.services[0].targets == [target("10.0.0.1", 3128)])
        #expect(configuration.services[1].chain == hops)
        #expect(configuration.services[1].targets == [target("10.0.0.1", 3128)])
        #expect(configuration.services[1].chainTargets == [target("example.com", 80)])
        #expect(configuration.services[2].chain.isEmpty && configuration.services[2].targets.isEmpty)
    }
}

@Suite("-L and -F together")
struct CommandLineTests {
    @Test func servicesAreNumberedAcrossArguments() throws {
        let configuration = try RingwayConfiguration(
            serviceURLs: ["tcp://:8000-8001/a:1", "whoami://:9000", "tcp://:9001/b:2"])
        #expect(configuration.services.map(\.name) == ["service-0", "service-1", "service-2", "service-3"])
        #expect(configuration.services.map(\.kind) == [.forward, .forward, .whoami, .forward])
        #expect(configuration.workers == nil)
        #expect(configuration.logLevel == .info)
        #expect(configuration.drainTimeout == .seconds(30))
        #expect(configuration.metrics == nil)
    }

    @Test(arguments: ["tcp://:8080", "tcp://:8080/:0", "tcp://:8080/x:80"])
    func nodeReplacesTargets(_ serviceURL: String) throws {
        let configuration = try RingwayConfiguration(
            serviceURLs: [serviceURL, "whoami://:9000"],
            nodeURLs: ["forward://10.0.0.1:9000,10.0.0.2:9000"]
        )
        #expect(configuration.services[0].targets == [target("10.0.0.1", 9000), target("10.0.0.2", 9000)])
        #expect(configuration.services[0].sendProxy == nil)
        #expect(configuration.services[1].targets.isEmpty)
    }

    @Test func nodeProxyProtocolSendsHeaders() throws {
        let configuration = try RingwayConfiguration(
            serviceURLs: ["tcp://:8080?proxyProtocolTLV.uniqueId=true"],
            nodeURLs: ["forward://h:1?proxyProtocol=2"]
        )
        #expect(configuration.services[0].sendProxy == ProxySendConfig(version: .v2, uniqueID: true))
    }

    @Test(arguments: [
        (
            ["tcp://:8080/x:80?handler.proxyProtocol=1"], ["forward://h:1?proxyProtocol=2"],
            "would both send a PROXY header; set one of them"
        ),
        (["tcp://:8080?proxyProtocolTLV.crc32c=true"], ["forward://h:1?proxyProtocol=1"], "v1 headers carry no TLVs"),
        (["tcp://:8080/x:1"], ["forward://a:1", "forward://b:1"], "-F \"forward://a:1\": a forward:// hop replaces the targets"),
        (["tcp://:8080/x:1"], ["http://a:1", "forward://b:1"], "cannot be one of several -F hops"),
        ([":8080"], ["forward://a:1"], "a -F forward:// node would take every request of this auto service"),
        (["tcp://:8080"], ["http://a:1"], "has no target; use tcp://:PORT/HOST:PORT"),
        (["rtcp://:8080/:8000"], ["http://a:1"], "needs a hop that supports BIND"),
        ([":8080"], ["http://127.0.0.1:8080"], "is this process's own service-0 (:8080); a hop into itself loops"),
        (["127.0.0.1:8080"], ["http://:9000", "socks5://localhost:8080"], "-F \"socks5://localhost:8080\": localhost:8080 is this process's own"),
        (
            ["tcp://:8080/a:1", "tcp://:8080/b:1"], [],
            "-L \"tcp://:8080/b:1\": listens on the same port as -L \"tcp://:8080/a:1\" (:8080)"
        ),
        (["tcp://:8080/a:1", "tcp://127.0.0.1:8080/b:1"], [], "listens on the same port"),
        (["tcp://0.0.0.0:8080/a:1", "tcp://127.0.0.1:8080/b:1"], [], "listens on the same port"),
        (
            ["tcp://:8000-8002/a:1", "tcp://:8002/b:1"], [],
            "-L \"tcp://:8002/b:1\": listens on the same port as -L \"tcp://:8000-8002/a:1\" (:8002)"
        ),
        (["whoami://:8080"], ["forward://h:1"], "-F \"forward://h:1\": no service uses it"),
        (["tcp://[::ffff:10.0.0.1]:8080/a:1"], [], "expected 10.0.0.1, the IPv4 form of that address"),
        ([], [], "no service given; use -L tcp://:PORT/HOST:PORT"),
        (["tcp://:8080/x:80", "udp://:53/1.1.1.1:53"], [], "-L \"udp://:53/1.1.1.1:53\": scheme udp"),
    ])
    func refuses(_ services: [String], _ nodes: [String], _ fragment: String) throws {
        let error = try #require(
            problem { () throws(ConfigurationError) in
                try RingwayConfiguration(serviceURLs: services, nodeURLs: nodes)
            }
        )
        #expect(error.description.contains(fragment), "\(error.description)")
    }

    /// GOST says nothing; an open proxy on a public address is worth a line at start-up.
    @Test func anOpenProxyBeyondLoopbackIsWarnedAbout() throws {
        for open in [":8080", "socks5://0.0.0.0:1080", "http://[::]:3128"] {
            let warnings = try RingwayConfiguration(serviceURLs: [open]).warnings
            #expect(warnings.count == 1 && warnings[0].contains("open proxy"), "\(open): \(warnings)")
        }
        for closed in ["127.0.0.1:8080", "socks5://u:p@:1080", "http://[::1]:3128", "tcp://:8080/x:1"] {
            #expect(try RingwayConfiguration(serviceURLs: [closed]).warnings.isEmpty, "\(closed)")
        }
    }

    @Test func distinctHostsMayShareAPort() throws {
        let configuration = try RingwayConfiguration(serviceURLs: [
            "tcp://127.0.0.1:8080/a:1", "tcp://127.0.0.2:8080/b:1", "tcp://[::1]:8080/c:1", "tcp://0.0.0.0:8081/d:1",
            "tcp://[::1]:8081/e:1",
        ])
        #expect(configuration.services.count == 5)
    }

    @Test func processSettingsAreValidated() throws {
        let metrics = try MetricsEndpoint(parsing: ":8080")
        let clash = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(serviceURLs: ["tcp://:8080/a:1"], metrics: metrics)
        }
        #expect(clash?.description == "--metrics: listens on the same port as -L \"tcp://:8080/a:1\" (:8080)")
        let noWorkers = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(serviceURLs: ["tcp://:8080/a:1"], workers: 0)
        }
        #expect(noWorkers?.description == "--workers: workers=0 is not valid; expected an integer from 1 to 1024")
        let negativeDrain = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(serviceURLs: ["tcp://:8080/a:1"], drainTimeout: .seconds(-1))
        }
        #expect(negativeDrain?.description.contains("--drain-timeout: drainTimeout=-1s is not valid") == true)
        let fine = try RingwayConfiguration(
            serviceURLs: ["tcp://:8080/a:1"],
            workers: 2,
            logLevel: .debug,
            metrics: try MetricsEndpoint(parsing: ":9000"),
            drainTimeout: .zero
        )
        #expect(fine.workers == 2)
    }

    @Test func engineServicesEndWithMetrics() throws {
        let metrics = try MetricsEndpoint(parsing: "127.0.0.1:9000")
        let configuration = try RingwayConfiguration(serviceURLs: ["tcp://:8080/a:1"], workers: 3, metrics: metrics)
        #expect(configuration.engineServices.map(\.name) == ["service-0", "metrics"])
        #expect(configuration.engineServices.last?.kind == .metrics)
        #expect(configuration.engineServices.last?.listen == listen(9000, on: ip(127, 0, 0, 1)))
        #expect(configuration.workerCount == 3)
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #expect(try RingwayConfiguration(serviceURLs: ["whoami://:1"]).workerCount == online)
    }

    @Test func handBuiltConfigurationsAreValidated() {
        var twins = RingwayConfiguration(services: [
            forward(listen(1), [target("a", 1)]), forward(listen(2), [target("b", 1)]),
        ])
        #expect(
            problem { () throws(ConfigurationError) in try twins.validate() }?.description
                == "two services are named service-0; names must be unique"
        )
        twins.metrics = MetricsEndpoint(listen: listen(9000))
        twins.services[1].name = "metrics"
        #expect(
            problem { () throws(ConfigurationError) in try twins.validate() }?.description
                == "--metrics: the metrics endpoint's own series carry service=\"metrics\"; rename this service so "
                + "its series stay apart"
        )
        twins.metrics = nil
        twins.services[1].name = "service-1"
        twins.services[1].targets = []
        #expect(
            problem { () throws(ConfigurationError) in try twins.validate() }?.description
                == "service-1: has no target; use at least one forwarder node"
        )
    }
}

@Suite("Process settings")
struct ProcessSettingsTests {
    @Test(arguments: [
        (":9000", MetricsEndpoint(listen: listen(9000))),
        ("127.0.0.1:9000?path=/metrics", MetricsEndpoint(listen: listen(9000, on: ip(127, 0, 0, 1)))),
        ("[::]:9000", MetricsEndpoint(listen: listen(9000))),
        ("[::1]:9100", MetricsEndpoint(listen: listen(9100, on: ipv6Loopback))),
    ])
    func metricsEndpoint(_ text: String, _ expected: MetricsEndpoint) throws {
        #expect(try MetricsEndpoint(parsing: text) == expected)
    }

    @Test(arguments: [
        ("user:pass@:9000", "user:password@ is not supported"),
        (":9000?path=/m", "path=/m is not valid; expected /metrics, the one path Ringway serves"),
        (":9000?format=json", "unknown key format; known keys: path"),
        (":9000/metrics", "give the path as ?path=/metrics"),
        ("http://:9000", "scheme http is not supported"),
        (":90000", "port 90000 is out of range"),
        ("localhost:9000", "host \"localhost\" is not valid"),
    ])
    func badMetricsEndpoint(_ text: String, _ fragment: String) throws {
        let error = try #require(problem { () throws(ConfigurationError) in try MetricsEndpoint(parsing: text) })
        #expect(error.description.hasPrefix("-metrics \"\(text)\": "))
        #expect(error.description.contains(fragment), "\(error.description)")
    }

    @Test func logLevels() throws {
        #expect(try LogLevel(parsing: "trace") == .trace)
        #expect(try LogLevel(parsing: "WARN") == .warn)
        #expect(try LogLevel(parsing: "fatal") == .fatal)
        #expect(LogLevel.trace < LogLevel.fatal)
        let error = problem { () throws(ConfigurationError) in try LogLevel(parsing: "verbose") }
        #expect(
            error?.description
                == "--log-level: level=verbose is not valid; expected trace, debug, info, warn, error or fatal"
        )
    }

    /// GOST sends every connection to the -F node and ignores a tcp:// service's own targets:
    /// Ringway does the same, and says so.
    @Test func targetsReplacedByTheNodeAreAWarning() throws {
        let written = try RingwayConfiguration(serviceURLs: ["tcp://:8080/10.0.0.1:80"], nodeURLs: ["forward://h:1"])
        #expect(written.services[0].targets.map(\.description) == ["h:1"])
        #expect(written.warnings == [
            "-L \"tcp://:8080/10.0.0.1:80\": its targets are ignored: with -F every connection goes to the -F node, "
                + "as in GOST; write the service without targets (or with GOST's placeholder /:0) to say so",
        ])
        for quiet in ["tcp://:8080", "tcp://:8080/:0"] {
            #expect(try RingwayConfiguration(serviceURLs: [quiet], nodeURLs: ["forward://h:1"]).warnings.isEmpty)
        }
        #expect(try RingwayConfiguration(serviceURLs: ["tcp://:8080/10.0.0.1:80"]).warnings.isEmpty)
    }

    @Test func resolutionErrorsQuoteTheirService() throws {
        var configuration = try RingwayConfiguration(serviceURLs: ["tcp://:8080/127.0.0.1:80", "tcp://:8081/no-such-host.invalid:80"])
        let error = problem { () throws(ConfigurationError) in try configuration.resolveTargets() }
        #expect(error?.description.hasPrefix("-L \"tcp://:8081/no-such-host.invalid:80\": target no-such-host.invalid:80") == true,
                "\(error?.description ?? "resolved")")
    }

    /// The -F node's PROXY setting is for the connections it receives: tcp:// services only.
    @Test func theNodesProxyProtocolDoesNotReachWhoami() throws {
        let configuration = try RingwayConfiguration(
            serviceURLs: ["tcp://:8080", "whoami://:8081"], nodeURLs: ["forward://h:1?proxyProtocol=2"])
        #expect(configuration.services[0].sendProxy?.version == .v2)
        #expect(configuration.services[1].sendProxy == nil)
    }
}
