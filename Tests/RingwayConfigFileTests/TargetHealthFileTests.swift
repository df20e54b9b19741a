import RingwayConfig
import RingwayConfigFile
import Testing

/// GOST's selector (`forwarder.selector`, a hop's `selector`), GOST 3.3's node `probe` and
/// Ringway's probe keys in a service's metadata, read from files and printed back by `-O`.
@Suite("Target health in files")
struct TargetHealthFileTests {
    static let forwarder = """
        services:
        - name: web
          addr: :8080
          handler:
            type: tcp
          forwarder:
            nodes:
            - name: a
              addr: 10.0.0.1:80
            - name: b
              addr: 10.0.0.2:80

        """

    static func chain(_ hops: String) -> String {
        """
        services:
        - name: proxy
          addr: :8080
          handler:
            type: auto
            chain: chain-0
        chains:
        - name: chain-0
          hops:
        \(hops)
        """
    }

    @Test func theForwardersSelectorAndTheServicesProbeKeys() throws {
        let text = Self.forwarder.replacingOccurrences(of: "    nodes:", with: """
                selector:
                  strategy: round
                  maxFails: 3
                  failTimeout: 45s
                nodes:
            """) + "  metadata:\n    probeInterval: 2s\n    probeTimeout: 500ms\n"
        let service = try configuration(text).services[0]
        #expect(service.health == TargetHealthConfig(
            maxFails: 3, failTimeout: .seconds(45), probe: TargetProbeConfig(interval: .seconds(2), timeout: .milliseconds(500))))
    }

    /// GOST's file default is its fail filter's, 10s, whether a selector is there or not (its
    /// command line says 30s once the query has selector keys).
    @Test func aFileSelectorWithoutFailTimeoutIsTenSeconds() throws {
        let text = Self.forwarder.replacingOccurrences(
            of: "    nodes:", with: "    selector:\n      maxFails: 2\n    nodes:")
        #expect(try configuration(text).services[0].health == TargetHealthConfig(maxFails: 2, failTimeout: .seconds(10)))
        #expect(try configuration(Self.forwarder).services[0].health == TargetHealthConfig())
    }

    /// The first hop's selector and its nodes' probe blocks govern the nodes Ringway dials.
    @Test func aHopsSelectorAndNodeProbes() throws {
        let text = Self.chain("""
              - name: hop-0
                selector:
                  maxFails: 2
                  failTimeout: 20s
                nodes:
                - name: node-0
                  addr: 10.0.0.1:3128
                  probe:
                    type: tcp
                    addr: 8.8.8.8:53
                    interval: 5s
                    timeout: 1s
                - name: node-1
                  addr: 10.0.0.2:3128
                  probe: {type: tcp, interval: 5s, timeout: 1s}

            """)
        let service = try configuration(text).services[0]
        let expected = TargetHealthConfig(
            maxFails: 2, failTimeout: .seconds(20), probe: TargetProbeConfig(interval: .seconds(5), timeout: .seconds(1)))
        #expect(service.health == expected)
        #expect(service.chain[0].health == expected)
    }

    static let refusals: [(String, String)] = {
        var cases: [(String, String)] = []
        do {
            let text: String = forwarder + "  metadata:\n    maxFails: 3\n"
            let fragment: String = "ringway.yaml:13:15: services[0].metadata.maxFails: key maxFails has no effect in that scope; use "
                + "forwarder.selector.maxFails"
            cases.append((text, fragment))
        }
        do {
            let text: String = forwarder.replacingOccurrences(of: "      addr: 10.0.0.2:80", with: "      addr: 10.0.0.2:80\n      probe: {interval: 1s}")
            let fragment: String = "services[0].forwarder.nodes[1].probe: key probe is a GOST option Ringway does not support; to probe the "
                + "targets set metadata.probeInterval"
            cases.append((text, fragment))
        }
        do {
            let text: String = forwarder + "  metadata:\n    probeInterval: 10ms\n"
            let fragment: String = "services[0].metadata.probeInterval: service.probeInterval=10ms is not valid; expected a duration of at least 100ms"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    selector: {failTimeout: 10}\n    nodes:\n    - addr: 10.0.0.1:3128\n")
            let fragment: String = "chains[0].hops[0].selector.failTimeout: failTimeout=10 is not valid; expected a duration with a unit, e.g. 10s "
                + "(GOST reads a bare number here as nanoseconds)"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n      probe: {type: http, addr: x:80}\n")
            let fragment: String = "chains[0].hops[0].nodes[0].probe.type: probe type http (GOST 3.3's http probe) is not supported"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n      probe: {interval: 1s, httpPath: /}\n")
            let fragment: String = "probe.httpPath: key httpPath is a GOST option Ringway does not support; remove it: Ringway's probe is a TCP connect"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n      probe: {interval: 1s}\n    - addr: 10.0.0.2:3128\n")
            let fragment: String = "chains[0].hops[0].nodes[1]: this node's connector, auth, proxyProtocol or probe differs from the first node's"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n  - name: hop-1\n    selector: {maxFails: 2}\n"
                + "    nodes:\n    - addr: 10.0.0.2:3128\n")
            let fragment: String = "chains[0].hops[1].selector.maxFails: maxFails on a hop after the first"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n  - name: hop-1\n    nodes:\n"
                + "    - addr: 10.0.0.2:3128\n      probe: {interval: 1s}\n")
            let fragment: String = "chains[0].hops[1].nodes[0].probe: probe on a hop after the first"
            cases.append((text, fragment))
        }
        do {
            let text: String = chain("  - name: hop-0\n    nodes:\n    - addr: 10.0.0.1:3128\n      metadata: {maxFails: 2}\n")
            let fragment: String = "key maxFails has no effect in that scope; use the hop's selector.maxFails (Ringway has no per-node values)"
            cases.append((text, fragment))
        }
        do {
            let text: String = forwarder.replacingOccurrences(of: "handler:\n    type: tcp", with: "handler:\n    type: tcp\n    chain: c")
                + "  metadata: {probeInterval: 1s}\nchains:\n- name: c\n  hops:\n  - name: h\n    nodes:\n    - addr: 10.0.0.9:3128\n"
            let fragment: String = "through a chain Ringway connects to the first hop's nodes"
            cases.append((text, fragment))
        }
        return cases
    }()

    @Test(arguments: refusals)
    func refused(_ text: String, _ fragment: String) {
        let error = failure { () throws(ConfigurationError) in try configuration(text) }
        #expect(error?.description.contains(fragment) == true, "\(String(describing: error))")
    }

    /// `-O yaml` writes the selector GOST reads and Ringway's probe keys where Ringway reads them.
    @Test func renderedBack() throws {
        let direct = try RingwayConfiguration(
            serviceURLs: ["tcp://:8080/10.0.0.1:80,10.0.0.2:80?maxFails=3&failTimeout=45s&probeInterval=2s&probeTimeout=500ms"])
        let text = ConfigFile.render(direct, as: .yaml)
        #expect(text.contains("""
                forwarder:
                  selector:
                    maxFails: 3
                    failTimeout: 45s
                  nodes:
                    - name: target-0
                      addr: "10.0.0.1:80"
                    - name: target-1
                      addr: "10.0.0.2:80"
                metadata:
                  probeInterval: 2s
                  probeTimeout: 500ms
            """), "\(text)")
        let chained = try RingwayConfiguration(
            serviceURLs: [":8080"], nodeURLs: ["http://10.0.0.1:3128?maxFails=2&probeInterval=5s"])
        let hops = ConfigFile.render(chained, as: .yaml)
        #expect(hops.contains("""
                  - name: hop-0
                    selector:
                      maxFails: 2
                      failTimeout: 30s
                    nodes:
                      - name: node-0
                        addr: "10.0.0.1:3128"
                        connector:
                          type: http
                        dialer:
                          type: tcp
                        probe:
                          type: tcp
                          interval: 5s
                          timeout: 5s
            """), "\(hops)")
        // Defaults print nothing.
        let plain = ConfigFile.render(try RingwayConfiguration(serviceURLs: ["tcp://:8080/10.0.0.1:80"]), as: .yaml)
        #expect(!plain.contains("selector") && !plain.contains("probe"))
    }
}
