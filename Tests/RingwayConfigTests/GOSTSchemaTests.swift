import ProxyProtocol
import RingwayConfig
import Testing

/// The GOST file schema over hand-built documents: no YAML parser is needed to map a file, so the
/// engine's Foundation-free module holds it.
@Suite("GOST file schema")
struct GOSTSchemaTests {
    /// GOST's proxy-node listing, built by hand: the chain's hop metadata sends to the hop.
    static let proxyNodeDocument = ConfigNode.map([
        (
            "services",
            .list([
                .map([
                    ("name", .string("service-0")), ("addr", .string(":8080")),
                    ("handler", .map([("type", .string("auto")), ("chain", .string("chain-0"))])),
                    ("listener", .map([("type", .string("tcp"))])),
                ])
            ])
        ),
        (
            "chains",
            .list([
                .map([
                    ("name", .string("chain-0")),
                    (
                        "hops",
                        .list([
                            .map([
                                ("name", .string("hop-0")),
                                (
                                    "nodes",
                                    .list([
                                        .map([
                                            ("name", .string("node-0")), ("addr", .string(":8000")),
                                            ("connector", .map([("type", .string("http"))])),
                                            ("dialer", .map([("type", .string("tcp"))])),
                                        ])
                                    ])
                                ),
                                ("metadata", .map([("proxyProtocol", .plain("1"))])),
                            ])
                        ])
                    ),
                ])
            ])
        ),
    ])

    @Test func aDocumentMapsAsTheCommandLineDoes() throws {
        let file = try GOSTSchema.fileConfiguration(from: Self.proxyNodeDocument, source: "gost.yaml")
        let command = try RingwayConfiguration(serviceURLs: [":8080"], nodeURLs: ["http://:8000?proxyProtocol=1"])
        var named = command.services
        named[0].chainName = "chain-0"
        named[0].chain[0].name = "hop-0"
        named[0].chain[0].targets[0].name = "node-0"
        named[0].targets[0].name = "node-0"
        #expect(file.services == named)
        #expect(file.chainNodes.map(\.target.description) == [":8000"])
    }

    /// What `-O` prints is the document the file was: render gives back the hand-built tree.
    @Test func renderGivesTheDocumentBack() throws {
        let file = try GOSTSchema.fileConfiguration(from: Self.proxyNodeDocument, source: "gost.yaml")
        #expect(GOSTSchema.render(try RingwayConfiguration(file: file)) == Self.proxyNodeDocument)
    }

    /// A problem found in a file is placed: file, line, column, key path.
    @Test func errorsNameTheirPlace() {
        let at = { (line: Int, column: Int) in ConfigMark(line: line, column: column) }
        let document = ConfigNode.mapping(
            [
                .init(
                    key: "services", keyMark: at(1, 1),
                    value: .sequence(
                        [
                            .mapping(
                                [
                                    .init(
                                        key: "name", keyMark: at(2, 3),
                                        value: .scalar(ConfigScalar("a", style: .plain), at(2, 9))),
                                    .init(
                                        key: "addr", keyMark: at(3, 3),
                                        value: .scalar(ConfigScalar(":8080", style: .plain), at(3, 9))),
                                    .init(
                                        key: "metadata", keyMark: at(4, 3),
                                        value: .mapping(
                                            [
                                                .init(
                                                    key: "proxyProtocol", keyMark: at(5, 5),
                                                    value: .scalar(ConfigScalar("x", style: .plain), at(5, 20)))
                                            ], at(5, 5))),
                                ], at(2, 3))
                        ], at(2, 1)))
            ], at(1, 1))
        let error = problem { () throws(ConfigurationError) in
            try GOSTSchema.fileConfiguration(from: document, source: "ringway.yaml")
        }
        #expect(
            error?.description
                == "ringway.yaml:5:20: services[0].metadata.proxyProtocol: service.proxyProtocol=x is not valid; expected 1 or 2 (0 = off)"
        )
        #expect(
            error?.origin
                == .file(path: "ringway.yaml", line: 5, column: 20, keyPath: "services[0].metadata.proxyProtocol"))
        #expect(error?.problem == .badValue(key: "service.proxyProtocol", value: "x", expected: "1 or 2 (0 = off)"))
    }

    /// Every GOST top-level key Ringway does not read is refused by name, none ignored.
    @Test(arguments: [
        "hops", "authers", "admissions", "bypasses", "resolvers", "hosts", "limiters", "climiters", "rlimiters",
        "observers",
        "loggers", "tls", "profiling", "api", "ingresses", "routers", "sds", "recorders",
    ])
    func gostOnlyTopLevelKeysAreRefused(_ key: String) {
        let error = problem { () throws(ConfigurationError) in
            try GOSTSchema.fileConfiguration(from: .map([(key, .list([]))]), source: "f")
        }
        #expect(
            error?.description.hasPrefix("f:0:0: \(key): key \(key) is a GOST option Ringway does not support; ")
                == true)
    }
}

@Suite("File and command line together")
struct FileAndCommandLineTests {
    static let whoamiFile = FileConfiguration(
        services: [ServiceConfig(name: "hello", kind: .whoami, listen: ListenAddress(host: nil, port: 9000))],
        logLevel: .warn,
        metrics: MetricsEndpoint(listen: ListenAddress(host: nil, port: 9100)),
        serviceOrigins: ["hello": .file(path: "f.yaml", line: 2, column: 3, keyPath: "services[0]")],
        metricsOrigin: .file(path: "f.yaml", line: 8, column: 3, keyPath: "metrics"))

    /// GOST: the file's services, then -L's, numbered from service-0 on their own.
    @Test func commandLineServicesFollowTheFilesAndAreNumberedOn() throws {
        let merged = try RingwayConfiguration(
            file: Self.whoamiFile, serviceURLs: ["tcp://:8000/a:1", "whoami://:8001"])
        #expect(merged.services.map(\.name) == ["hello", "service-0", "service-1"])
        #expect(merged.services.map(\.kind) == [.whoami, .forward, .whoami])
        #expect(merged.logLevel == .warn)
        #expect(merged.metrics?.listen.port == 9100)
    }

    /// Given on the command line, --log-level and --metrics override the file.
    @Test func commandLineProcessSettingsOverride() throws {
        let metrics = try MetricsEndpoint(parsing: "127.0.0.1:9200")
        let merged = try RingwayConfiguration(file: Self.whoamiFile, logLevel: .debug, metrics: metrics)
        #expect(merged.logLevel == .debug && merged.metrics == metrics)
        // Without a file or a flag, the defaults.
        #expect(try RingwayConfiguration(file: nil, serviceURLs: ["whoami://:1"]).logLevel == .info)
    }

    /// -F belongs to the -L services; the file's services keep theirs (none here).
    @Test func hopsApplyToCommandLineServicesOnly() throws {
        var file = Self.whoamiFile
        file.services = [
            ServiceConfig(name: "file-proxy", kind: .proxy, listen: ListenAddress(host: .v4(.loopback), port: 9001))
        ]
        let merged = try RingwayConfiguration(
            file: file, serviceURLs: ["127.0.0.1:9002"], nodeURLs: ["http://10.0.0.1:3128"])
        #expect(merged.services[0].chain.isEmpty)
        #expect(merged.services[1].chain == [ChainHop(.http, targets: [TargetAddress(host: "10.0.0.1", port: 3128)])])
        let unused = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(file: file, nodeURLs: ["http://10.0.0.1:3128"])
        }
        #expect(unused?.description.hasPrefix("-F \"http://10.0.0.1:3128\": no -L service uses it") == true)
    }

    /// The checks run over the whole set: a -F hop into a file's service, two sockets on one port.
    @Test func checksCoverBothSources() {
        let hopIntoFile = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(
                file: Self.whoamiFile, serviceURLs: ["127.0.0.1:9002"], nodeURLs: ["http://127.0.0.1:9000"])
        }
        #expect(
            hopIntoFile?.description.hasPrefix(
                "-F \"http://127.0.0.1:9000\": 127.0.0.1:9000 is this process's own hello") == true)
        let samePort = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(file: Self.whoamiFile, serviceURLs: ["whoami://127.0.0.1:9000"])
        }
        #expect(
            samePort?.description
                == "-L \"whoami://127.0.0.1:9000\": listens on the same port as services[0] at f.yaml:2:3 (:9000)")
        let metricsClash = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(file: Self.whoamiFile, serviceURLs: ["whoami://:9100"])
        }
        #expect(
            metricsClash?.description
                == "f.yaml:8:3: metrics: listens on the same port as -L \"whoami://:9100\" (:9100)")
        let empty = problem { () throws(ConfigurationError) in try RingwayConfiguration(file: FileConfiguration()) }
        #expect(empty?.description == "no service given; add services to the file or use -L tcp://:PORT/HOST:PORT")
    }

    /// Open proxies from the file are warned about with their place, as -L ones are.
    @Test func openProxiesInTheFileAreWarnedAbout() throws {
        var file = Self.whoamiFile
        file.services.append(ServiceConfig(name: "open", kind: .proxy, listen: ListenAddress(host: nil, port: 3128)))
        file.serviceOrigins["open"] = .file(path: "f.yaml", line: 5, column: 3, keyPath: "services[1]")
        let warnings = try RingwayConfiguration(file: file).warnings
        #expect(
            warnings.count == 1 && warnings[0].hasPrefix("f.yaml:5:3: services[1]: a auto proxy without handler.auth"))
    }
}
