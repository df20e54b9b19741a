import RingwayConfig
import Testing

/// GOST's selector keys (`maxFails`, `failTimeout`) and Ringway's probe keys on `-L` and `-F`:
/// where they go, GOST's defaults, and the values refused.
@Suite("Target health keys")
struct TargetHealthConfigTests {
    static func health(_ url: String, nodes: [String] = []) throws -> TargetHealthConfig {
        try RingwayConfiguration(serviceURLs: [url], nodeURLs: nodes).services[0].health
    }

    @Test(arguments: [
        // GOST marks nodes even without a selector: maxFails 1, failTimeout 10s.
        ("tcp://:8080/a:1,b:2", TargetHealthConfig(maxFails: 1, failTimeout: .seconds(10))),
        ("tcp://:8080/a:1,b:2?maxFails=3&failTimeout=45s", TargetHealthConfig(maxFails: 3, failTimeout: .seconds(45))),
        // Selector keys in the query make GOST's command line default failTimeout to 30s.
        ("tcp://:8080/a:1,b:2?maxFails=3", TargetHealthConfig(maxFails: 3, failTimeout: .seconds(30))),
        ("tcp://:8080/a:1,b:2?strategy=round", TargetHealthConfig(maxFails: 1, failTimeout: .seconds(30))),
        ("tcp://:8080/a:1,b:2?failTimeout=5s", TargetHealthConfig(maxFails: 1, failTimeout: .seconds(5))),
        // GOST's other spellings, and a bare number of seconds as GOST's metadata reads it.
        ("tcp://:8080/a:1?max_fails=2&fail_timeout=90", TargetHealthConfig(maxFails: 2, failTimeout: .seconds(90))),
        ("tcp://:8080/a:1?MAXFAILS=4&FailTimeout=300ms", TargetHealthConfig(maxFails: 4, failTimeout: .milliseconds(300))),
        // Ringway's probe: the timeout defaults to GOST's 10s, never more than the interval.
        (
            "tcp://:8080/a:1?probeInterval=2s",
            TargetHealthConfig(probe: TargetProbeConfig(interval: .seconds(2), timeout: .seconds(2)))
        ),
        (
            "tcp://:8080/a:1?probeInterval=1m",
            TargetHealthConfig(probe: TargetProbeConfig(interval: .seconds(60), timeout: .seconds(10)))
        ),
        (
            "tcp://:8080/a:1?service.probeInterval=500ms&probeTimeout=200ms",
            TargetHealthConfig(probe: TargetProbeConfig(interval: .milliseconds(500), timeout: .milliseconds(200)))
        ),
    ])
    func serviceKeys(_ url: String, _ expected: TargetHealthConfig) throws {
        #expect(try Self.health(url) == expected)
    }

    /// Through `-F` Ringway dials the first hop's nodes: that hop's keys count, for tcp:// and
    /// proxy services alike.
    @Test func theFirstHopsKeysGovernItsNodes() throws {
        let lone = try Self.health("tcp://:8080", nodes: ["forward://10.0.0.1:1,10.0.0.2:1?maxFails=2&probeInterval=1s"])
        #expect(lone == TargetHealthConfig(maxFails: 2, failTimeout: .seconds(30), probe: TargetProbeConfig(interval: .seconds(1))))
        let configuration = try RingwayConfiguration(
            serviceURLs: [":8080", "tcp://:8081/example.com:80"],
            nodeURLs: ["http://10.0.0.1:3128,10.0.0.2:3128?failTimeout=20s", "socks5://10.0.0.3:1080?strategy=rr"])
        for service in configuration.services {
            #expect(service.health == TargetHealthConfig(maxFails: 1, failTimeout: .seconds(20)), "\(service.name)")
            #expect(service.chain[0].health == service.health)
            #expect(service.chain[1].health == TargetHealthConfig(), "a later hop's strategy changes nothing")
        }
    }

    @Test(arguments: [
        (["tcp://:8080/a:1?maxFails=2"], ["forward://10.0.0.1:1"], "-L \"tcp://:8080/a:1?maxFails=2\": maxFails: through a chain Ringway connects to the first hop's nodes"),
        (["tcp://:8080/a:1?probeInterval=1s"], ["http://10.0.0.1:3128"], "put the selector and probe keys on the first hop"),
        ([":8080"], ["http://10.0.0.1:3128", "socks5://10.0.0.2:1080?maxFails=2"], "maxFails on a hop after the first"),
        ([":8080"], ["http://10.0.0.1:3128", "socks5://10.0.0.2:1080?probeInterval=1s"], "probeInterval on a hop after the first"),
        ([":8080"], ["http://10.0.0.1:3128?maxFails=0"], "maxFails=0 is not valid"),
        ([":8080"], ["http://10.0.0.1:3128?probeTimeout=1s"], "probeTimeout needs probeInterval"),
        ([":8080"], ["http://10.0.0.1:3128?hop.maxFails=2"], "unknown key hop.maxFails"),
        ([":8080"], ["http://10.0.0.1:3128?maxFails=2&max_fails=2"], "key max_fails is given more than once"),
    ])
    func refused(_ services: [String], _ nodes: [String], _ fragment: String) {
        let error = problem { () throws(ConfigurationError) in
            try RingwayConfiguration(serviceURLs: services, nodeURLs: nodes)
        }
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
    }
}
