import ProxyProtocol
import RingwayConfig
import RingwayConfigFile
import RingwayTestSupport
import Testing

/// `-O` prints what `-C` reads back: `parse(render(x))` is `x` (names that the first render gives
/// to unnamed chains, hops and nodes aside), and a second render prints the same text.
@Suite("-O round trip")
struct RoundTripTests {
    /// The examples of the README and of `--help`, as command lines.
    static let commandLines: [(services: [String], nodes: [String])] = [
        (["tcp://:8000/192.168.1.10:80"], []),
        (["tcp://:8000/10.0.0.1:80,10.0.0.2:80"], []),
        (["tcp://[::1]:8000/[2001:db8::10]:80"], []),
        (["tcp://:443/10.0.0.5:443?proxyProtocol=1&trustedProxies=10.0.0.0/8&handler.proxyProtocol=2"], []),
        (["tcp://:443/10.0.0.5:443?proxyProtocol=1&trustedProxies=10.0.0.0/8"], []),
        (["tcp://:8000/:8080?handler.proxyProtocol=1", "tcp://:8080/192.168.1.10:80?proxyProtocol=1"], []),
        (["tcp://:8000/:8080?handler.proxyProtocol=2", "whoami://:8080?proxyProtocol=1"], []),
        (["tcp://:8080"], ["forward://10.0.0.1:9000?proxyProtocol=2"]),
        ([":8080?proxyProtocol=1"], []),
        ([":8080"], ["http://:8000?proxyProtocol=1"]),
        (["rtcp://:8080/:8000?handler.proxyProtocol=1"], []),
        (["socks5://alice:s3cret@:1080"], ["http://10.0.0.1:3128", "socks5://bob:pw@10.0.0.2:1080"]),
        // A port range is a service per port.
        (["tcp://:8000-8002/10.0.0.1:9000-9002"], []),
        // Every service key Ringway has, on the kinds that take them.
        (
            [
                "tcp://127.0.0.1:8443/a.example:443,b.example:8443?proxyProtocol=2&proxyProtocolPolicy=require"
                    + "&trustedProxies=10.0.0.0/8,fd00::/8,192.168.1.7&proxyProtocolTimeout=1500ms&proxyProtocolMaxHeader=512"
                    + "&handler.proxyProtocol=2&proxyProtocolTLV.uniqueId=true&proxyProtocolTLV.crc32c=true"
                    + "&proxyProtocolTLV.passthrough=true&dialTimeout=3s&idleTimeout=1h30m&maxConnections=10000&splice=true"
                    + "&strategy=round",
                "http://u:p%40ss@[::1]:3128?handshakeTimeout=5s&idleTimeout=0&dialTimeout=2s&handler.proxyProtocol=1"
                    + "&maxConnections=5&splice=on&proxyProtocol=1",
                "socks4://solo@127.0.0.2:1081?handshakeTimeout=250ms",
                "whoami://0.0.0.0:8081?proxyProtocol=1&requestTimeout=3s&idleTimeout=10s&maxConnections=7",
            ], []
        ),
        // Target health: GOST's selector keys (30s failTimeout by GOST's command-line default),
        // Ringway's probe, and the same on a lone forward node and on a chain's first hop.
        (["tcp://:8000/10.0.0.1:80,10.0.0.2:80?maxFails=3&failTimeout=45s&probeInterval=2s&probeTimeout=500ms"], []),
        (["tcp://:8000/10.0.0.1:80,10.0.0.2:80?strategy=round&probeInterval=1m"], []),
        (["tcp://:8080"], ["forward://10.0.0.1:9000,10.0.0.2:9000?maxFails=2"]),
        (
            [":8080", "tcp://:8081/internal.example:80"],
            ["http://10.0.0.1:3128,10.0.0.2:3128?maxFails=2&failTimeout=20s&probeInterval=5s", "socks5://10.0.0.3:1080?strategy=round"]
        ),
        // Three hops with credentials, PROXY headers to two of them, two nodes on the first.
        (
            ["socks5://alice:s3cret@127.0.0.1:1080", "tcp://:8081/internal.example:80"],
            [
                "http://u1:p1@10.0.0.1:3128,10.0.0.3:3128?proxyProtocol=2", "socks5://u2:p2@10.0.0.2:1080",
                "socks4://10.0.0.4:1080?proxyProtocol=1",
            ]
        ),
    ]

    @Test(arguments: commandLines.indices, [ConfigFileFormat.yaml, .json])
    func commandLinesSurvive(_ index: Int, _ format: ConfigFileFormat) throws {
        let (services, nodes) = Self.commandLines[index]
        let original = try RingwayConfiguration(serviceURLs: services, nodeURLs: nodes)
        try expectRoundTrip(original, as: format)
    }

    /// Log level and metrics are part of the file; `--workers` and `--drain-timeout` are not.
    @Test(arguments: [ConfigFileFormat.yaml, .json])
    func processSettingsSurvive(_ format: ConfigFileFormat) throws {
        let original = try RingwayConfiguration(
            serviceURLs: ["whoami://127.0.0.1:8080"], workers: 3, logLevel: .debug,
            metrics: try MetricsEndpoint(parsing: "127.0.0.1:9100?requestTimeout=4s"), drainTimeout: .seconds(5))
        let text = ConfigFile.render(original, as: format)
        let back = try RingwayConfiguration(file: try ConfigFile.parse(text: text, source: "out"))
        #expect(back.logLevel == .debug)
        #expect(back.metrics == original.metrics)
        #expect(back.services == original.services)
        #expect(back.workers == nil && back.drainTimeout == RingwayConfiguration.defaultDrainTimeout)
        #expect(!text.contains("workers") && !text.contains("drain"))
    }

    /// A file's own names come back as they were: no renaming.
    @Test(arguments: [GOSTPageListings.receive, GOSTPageListings.forwardNode, GOSTPageListings.proxyNode])
    func pageListingsSurviveWithTheirNames(_ listing: String) throws {
        let original = try configuration(listing)
        for format in ConfigFileFormat.allCases {
            let text = ConfigFile.render(original, as: format)
            let back = try RingwayConfiguration(file: try ConfigFile.parse(text: text, source: "out"))
            #expect(back.services == original.services, "\(text)")
            #expect(ConfigFile.render(back, as: format) == text)
        }
    }

    /// The page's chain listing is exactly what `-O yaml` prints for `-L :8080 -F http://:8000?proxyProtocol=1`.
    @Test func yamlLayoutIsGOSTs() throws {
        let command = try RingwayConfiguration(serviceURLs: [":8080"], nodeURLs: ["http://:8000?proxyProtocol=1"])
        #expect(ConfigFile.render(command, as: .yaml) == GOSTPageListings.proxyNode)
    }

    @Test func jsonLayout() throws {
        let command = try RingwayConfiguration(
            serviceURLs: ["whoami://[::1]:8080?maxConnections=2"], logLevel: .warn,
            metrics: try MetricsEndpoint(parsing: ":9000"))
        #expect(
            ConfigFile.render(command, as: .json) == """
                {
                  "services": [
                    {
                      "name": "service-0",
                      "addr": "[::1]:8080",
                      "handler": {
                        "type": "whoami"
                      },
                      "listener": {
                        "type": "tcp"
                      },
                      "metadata": {
                        "maxConnections": 2
                      }
                    }
                  ],
                  "log": {
                    "level": "warn"
                  },
                  "metrics": {
                    "addr": ":9000"
                  }
                }

                """)
    }

    /// Names YAML would read as something else are quoted; JSON escapes what it must.
    @Test(arguments: [ConfigFileFormat.yaml, .json])
    func awkwardStringsSurvive(_ format: ConfigFileFormat) throws {
        let names = [
            "yes", "No", "on", "null", "~", "123", "0x1F", "1_000", "1:30", "2001-12-14", ".5", "-1", "1e3", "a: b",
            "#hash", "tag #x", "- dash", "-", "?", ":", "[x]", "{x}", "'q'", "\"d\"", "quote\"d", "back\\slash",
            "ünïcode",
            "trailing:", " lead", "tail ", "---", "tab\tin", "@at", "`tick", "%p", "!bang", "&amp", "*star", "|pipe",
            ">gt",
        ]
        let services = names.enumerated().map { index, name in
            ServiceConfig(name: name, kind: .whoami, listen: ListenAddress(host: nil, port: UInt16(20000 + index)))
        }
        var original = RingwayConfiguration(services: services)
        original.services[0].credentials = nil
        let text = ConfigFile.render(original, as: format)
        let back = try RingwayConfiguration(file: try ConfigFile.parse(text: text, source: "out"))
        #expect(back.services.map(\.name) == names, "\(text)")
        if format == .yaml {
            #expect(
                text.contains("- name: ünïcode\n") && text.contains("- name: \"yes\"\n")
                    && text.contains("- name: \"tab\\tin\"\n"))
        }
    }

    private func expectRoundTrip(_ original: RingwayConfiguration, as format: ConfigFileFormat) throws {
        let text = ConfigFile.render(original, as: format)
        let back: RingwayConfiguration
        do throws(ConfigurationError) {
            back = try RingwayConfiguration(file: try ConfigFile.parse(text: text, source: "out"))
        } catch {
            Issue.record("\(error)\n\(text)")
            return
        }
        #expect(unnamed(back).services == unnamed(original).services, "\(text)")
        #expect(back.logLevel == original.logLevel && back.metrics == original.metrics)
        #expect(ConfigFile.render(back, as: format) == text)
    }
}
