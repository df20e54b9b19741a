import Glibc
import ProxyProtocol
import RingwayConfig
import RingwayConfigFile
import RingwayTestSupport
import Testing

@Suite("Reading configuration files")
struct ConfigFileParseTests {
    /// The proxy-node listing in JSON, indented with tabs (legal in JSON, and in libyaml's flow
    /// context): the same services as the YAML.
    @Test func jsonWithTabsReadsAsTheYAMLDoes() throws {
        let json = """
            {
            \t"services": [
            \t\t{
            \t\t\t"name": "service-0",
            \t\t\t"addr": ":8080",
            \t\t\t"handler": {"type": "auto", "chain": "chain-0"},
            \t\t\t"listener": {"type": "tcp"}
            \t\t}
            \t],
            \t"chains": [
            \t\t{
            \t\t\t"name": "chain-0",
            \t\t\t"hops": [
            \t\t\t\t{
            \t\t\t\t\t"name": "hop-0",
            \t\t\t\t\t"nodes": [
            \t\t\t\t\t\t{"name": "node-0", "addr": ":8000", "connector": {"type": "http"}, "dialer": {"type": "tcp"}}
            \t\t\t\t\t],
            \t\t\t\t\t"metadata": {"proxyProtocol": 1}
            \t\t\t\t}
            \t\t\t]
            \t\t}
            \t]
            }

            """
        #expect(ConfigFile.format(of: json) == .json)
        #expect(ConfigFile.format(of: GOSTPageListings.proxyNode) == .yaml)
        #expect(try parse(json).services == parse(GOSTPageListings.proxyNode).services)
    }

    /// An error in JSON is placed like one in YAML.
    @Test func jsonErrorsHaveLinesAndKeyPaths() {
        let json =
            "{\n  \"services\": [\n    {\"name\": \"a\", \"addr\": \":8080\", \"handler\": {\"type\": \"ss\"}}\n  ]\n}\n"
        let error = failure { () throws(ConfigurationError) in try parse(json) }
        #expect(
            error?.description
                == "ringway.yaml:3:56: services[0].handler.type: handler type ss (a Shadowsocks proxy) is not supported; "
                + "Ringway supports tcp, forward, rtcp, auto, http, socks5, socks, socks4, socks4a, whoami")
    }

    static let service = "services:\n- name: a\n  addr: :8080\n"
    static let tcpService = service + "  handler:\n    type: tcp\n  forwarder:\n    nodes:\n    - addr: 10.0.0.1:80\n"

    @Test(arguments: [
        // Values go through the -L validators: the same problem, placed in the file.
        (
            tcpService + "  metadata:\n    proxyProtocol: 1\n    trustedProxies: 10.0.0.0/33\n",
            "ringway.yaml:11:21: services[0].metadata.trustedProxies: service.trustedProxies: "
        ),
        (
            service + "  handler:\n    type: tcp\n    metadata:\n      proxyProtocol: 3\n",
            "ringway.yaml:7:22: services[0].handler.metadata.proxyProtocol: handler.proxyProtocol=3 is not valid; expected 1 or 2 (0 = off)"
        ),
        (
            service + "  metadata:\n    proxyProtocolTimeout: 1m\n",
            "ringway.yaml:2:3: services[0]: service.proxyProtocolTimeout needs proxyProtocol=1 (receiving PROXY headers)"
        ),
        (
            service + "  listener:\n    type: tcp\n    metadata:\n      proxyProtocol: 1\n",
            "ringway.yaml:7:22: services[0].listener.metadata.proxyProtocol: key listener.proxyProtocol has no effect in that scope"
        ),
        (
            service + "  metadata:\n    handler.proxyProtocol: 1\n",
            "ringway.yaml:5:28: services[0].metadata.handler.proxyProtocol: key handler.proxyProtocol has no effect in that "
                + "scope; use proxyProtocol in the service's handler.metadata"
        ),
        (
            service + "  metadata:\n    strategy: round\n",
            "ringway.yaml:5:15: services[0].metadata.strategy: key strategy has no effect in that scope; use forwarder.selector.strategy"
        ),
        (
            service + "  metadata:\n    so_mark: 1\n",
            "ringway.yaml:5:14: services[0].metadata.so_mark: key service.so_mark is a GOST option Ringway does not support; remove it"
        ),
        // Keys GOST has and Ringway does not: refused with a hint, never ignored.
        (
            service + "  interface: eth0\n",
            "ringway.yaml:4:3: services[0].interface: key interface is a GOST option Ringway does not support; remove it"
        ),
        (
            service + "  climiter: c\n",
            "ringway.yaml:4:3: services[0].climiter: key climiter is a GOST option Ringway does not support; GOST closes "
                + "connections over the limit; Ringway leaves them queued until a slot frees: set metadata.maxConnections on the service"
        ),
        (
            tcpService + "    selector:\n      maxFails: 0\n",
            "ringway.yaml:10:17: services[0].forwarder.selector.maxFails: maxFails=0 is not valid; expected an integer from 1"
        ),
        (
            tcpService + "    selector:\n      failTimeout: 60\n",
            "ringway.yaml:10:20: services[0].forwarder.selector.failTimeout: failTimeout=60 is not valid; expected a "
                + "duration with a unit, e.g. 60s (GOST reads a bare number here as nanoseconds)"
        ),
        (
            tcpService + "    selector:\n      strategy: fifo\n",
            "ringway.yaml:10:17: services[0].forwarder.selector.strategy: strategy=fifo is not valid; expected round or rr"
        ),
        (
            "authers: []\n",
            "ringway.yaml:1:1: authers: key authers is a GOST option Ringway does not support; put username and password"
        ),
        (
            "api:\n  addr: :18080\n",
            "ringway.yaml:1:1: api: key api is a GOST option Ringway does not support; remove it (Ringway has no web API)"
        ),
        (
            service + "  foo: 1\n",
            "ringway.yaml:4:3: services[0].foo: unknown key foo; known keys: name, addr, handler, listener, forwarder, metadata"
        ),
        (
            "service:\n- name: a\n",
            "ringway.yaml:1:1: service: unknown key service; known keys: services, chains, log, metrics"
        ),
        // Shapes and references.
        ("services:\n  name: a\n", "ringway.yaml:2:3: services: expected a list, found a mapping"),
        (service + "  handler: tcp\n", "ringway.yaml:4:12: services[0].handler: expected a mapping, found a scalar"),
        (
            "services:\n- addr: :8080\n",
            "ringway.yaml:2:3: services[0]: name is missing; expected a unique name, e.g. service-0"
        ),
        ("services:\n- name: a\n", "ringway.yaml:2:3: services[0]: addr is missing; expected [HOST]:PORT to listen on"),
        (service + "  Name: b\n", "ringway.yaml:4:3: services[0].Name: key Name is given more than once"),
        (
            service + "  handler:\n    type: auto\n    chain: nope\n",
            "ringway.yaml:6:12: services[0].handler.chain: chain nope is not defined; none is defined"
        ),
        (
            service + "  handler:\n    type: tcp\n",
            "ringway.yaml:2:3: services[0]: forwarder.nodes is missing; expected the targets"
        ),
        (
            service + "  forwarder:\n    nodes:\n    - addr: 1.2.3.4:80\n",
            "ringway.yaml:5:5: services[0].forwarder: an auto handler connects where each client asks and has no forwarder; remove it"
        ),
        (
            service
                + "  handler:\n    type: tcp\n    auth:\n      username: u\n  forwarder:\n    targets: [1.2.3.4:80]\n",
            "ringway.yaml:7:7: services[0].handler.auth: a tcp handler checks no credentials"
        ),
        (
            service
                + "  handler:\n    type: whoami\n    chain: c\nchains:\n- name: c\n  hops:\n  - nodes:\n    - addr: 10.0.0.1:3128\n",
            "ringway.yaml:6:12: services[0].handler.chain: a whoami handler answers by itself and dials nothing; remove chain"
        ),
        (
            service + "  listener:\n    type: ws\n",
            "ringway.yaml:5:11: services[0].listener.type: listener type ws (a WebSocket transport) is not supported; Ringway supports tcp"
        ),
        (
            "services:\n- name: a\n  addr: :8080-8082\n",
            "ringway.yaml:3:9: services[0].addr: a port range makes one service per port"
        ),
        (
            "services:\n- name: a\n  addr: localhost:8080\n",
            "ringway.yaml:3:9: services[0].addr: host \"localhost\" is not valid"
        ),
        (
            "services:\n- {name: a, addr: ':8080', handler: {type: tcp}, forwarder: {nodes: [{addr: 'x:1'}]}}\n- {name: a, addr: ':8081'}\n",
            "ringway.yaml:3:10: services[1].name: service name a is used more than once; names must be unique"
        ),
        // Chains.
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n    - addr: b:1\n      connector: {type: socks5}\n",
            "ringway.yaml:6:7: chains[0].hops[0].nodes[1]: this node's connector, auth, proxyProtocol or probe differs from the first node's"
        ),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n      connector: {type: relay}\n",
            "ringway.yaml:6:25: chains[0].hops[0].nodes[0].connector.type: connector type relay (a GOST relay hop) is not supported"
        ),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n      dialer: {type: tls}\n",
            "ringway.yaml:6:22: chains[0].hops[0].nodes[0].dialer.type: dialer type tls (a TLS transport) is not supported; Ringway supports tcp"
        ),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n      connector: {type: socks4, auth: {username: u}}\n",
            "ringway.yaml:6:39: chains[0].hops[0].nodes[0].connector.auth: Ringway sends SOCKS4 hops an empty user id"
        ),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n  - nodes:\n    - addr: b:1\n      connector: {type: forward}\n",
            "ringway.yaml:6:5: chains[0].hops[1]: a forward:// hop replaces the targets and cannot be one of several -F hops"
        ),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n    metadata:\n      proxyProtocol: 1\n      interface: eth0\n",
            "ringway.yaml:8:18: chains[0].hops[0].metadata.interface: key interface is a GOST option Ringway does not support"
        ),
        (
            "chains:\n- name: c\n  hops: []\n",
            "ringway.yaml:2:3: chains[0]: hops is missing; expected a list of hops, each with nodes"
        ),
        ("chains:\n- name: c\n  hops:\n  - name: h\n", "ringway.yaml:4:5: chains[0].hops[0]: nodes is missing"),
        (
            "chains:\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n- name: c\n  hops:\n  - nodes:\n    - addr: a:1\n",
            "ringway.yaml:6:9: chains[1].name: chain name c is used more than once"
        ),
        // Process settings.
        (
            "log:\n  level: verbose\n",
            "ringway.yaml:2:10: log.level: level=verbose is not valid; expected trace, debug, info, warn, error or fatal"
        ),
        (
            "log:\n  format: text\n",
            "ringway.yaml:2:11: log.format: format=text is not valid; expected json (Ringway writes JSON lines only)"
        ),
        (
            "log:\n  output: /var/log/gost.log\n",
            "ringway.yaml:2:11: log.output: output=/var/log/gost.log is not valid; expected stderr"
        ),
        (
            "log:\n  rotation: {maxSize: 1}\n",
            "ringway.yaml:2:3: log.rotation: key rotation is a GOST option Ringway does not support"
        ),
        (
            "metrics:\n  addr: :9000\n  path: /m\n",
            "ringway.yaml:3:9: metrics.path: path=/m is not valid; expected /metrics, the one path Ringway serves"
        ),
        ("metrics:\n  path: /metrics\n", "ringway.yaml:2:3: metrics: addr is missing"),
        // YAML itself.
        (
            "services: [\n",
            "ringway.yaml:2:1: while parsing a flow node at line 2, column 1: did not find expected node content"
        ),
        ("services:\n- name: a\n  name: b\n", "ringway.yaml:2:3: key name is given more than once"),
        ("- a\n", "ringway.yaml:1:1: expected a mapping, found a list"),
    ])
    func refuses(_ text: String, _ expected: String) {
        let error = failure { () throws(ConfigurationError) in try configuration(text) }
        #expect(error?.description.hasPrefix(expected) == true, "\(error?.description ?? "accepted")")
    }

    /// Errors found with the whole set (after the file's own checks) still point into the file.
    @Test func wholeSetErrorsPointIntoTheFile() {
        let twoOnOnePort = """
            services:
            - {name: a, addr: ':8080', handler: {type: whoami}}
            - {name: b, addr: '127.0.0.1:8080', handler: {type: whoami}}

            """
        #expect(
            failure { () throws(ConfigurationError) in try configuration(twoOnOnePort) }?.description
                == "ringway.yaml:3:3: services[1]: listens on the same port as services[0] at ringway.yaml:2:3 (:8080)")
        let hopIntoItself = """
            services:
            - {name: a, addr: ':8080', handler: {type: auto, chain: c}}
            chains:
            - name: c
              hops:
              - nodes:
                - addr: 127.0.0.1:8080

            """
        #expect(
            failure { () throws(ConfigurationError) in try configuration(hopIntoItself) }?.description
                == "ringway.yaml:7:13: chains[0].hops[0].nodes[0].addr: 127.0.0.1:8080 is this process's own a (:8080); "
                + "a hop into itself loops until descriptors run out")
    }

    /// Everything that GOST reads without regard to case, Ringway reads so too; null is nothing.
    @Test func keysIgnoreCaseAndNullIsEmpty() throws {
        let text = """
            Services:
            - Name: web
              ADDR: 127.0.0.1:8080
              Handler:
                Type: HTTP
                metadata:
              Listener: {type: TCP}
              metadata: ~
            log:

            """
        let file = try parse(text)
        #expect(file.services.map(\.handler) == ["http"])
        #expect(file.services[0].listen == ListenAddress(host: .v4(IPv4Address(127, 0, 0, 1)), port: 8080))
        #expect(file.logLevel == nil)
    }

    /// Metadata values may be lists (`trustedProxies`) and nested maps (`proxyProtocolTLV`).
    @Test func metadataListsAndNestedMaps() throws {
        let text = """
            services:
            - name: edge
              addr: :443
              handler:
                type: tcp
                metadata:
                  proxyProtocol: 2
                  proxyProtocolTLV:
                    uniqueId: true
                    crc32c: "on"
              forwarder:
                targets: [10.0.0.5:443]
              metadata:
                proxyProtocol: 1
                trustedProxies: [10.0.0.0/8, "fd00::/8"]

            """
        let file = try parse(text)
        let command = try RingwayConfiguration(serviceURLs: [
            "tcp://:443/10.0.0.5:443?proxyProtocol=1&trustedProxies=10.0.0.0/8,fd00::/8&handler.proxyProtocol=2"
                + "&proxyProtocolTLV.uniqueId=true&proxyProtocolTLV.crc32c=on"
        ])
        var expected = command.services
        expected[0].name = "edge"
        #expect(file.services == expected)
    }

    /// A chain no service uses is read and checked, and a warning says nobody uses it.
    @Test func anUnusedChainIsAWarning() throws {
        let text =
            GOSTPageListings.forwardNode + "chains:\n- name: spare\n  hops:\n  - nodes:\n    - addr: 10.0.0.1:3128\n"
        #expect(try parse(text).warnings == ["ringway.yaml:15:3: chains[0]: chain spare is used by no service"])
        #expect(try parse(text).chainNodes.isEmpty)
    }

    /// A lone forward hop replaces a tcp service's targets, as `-F forward://` does.
    @Test func aForwardChainReplacesTheTargets() throws {
        let text = """
            services:
            - name: service-0
              addr: :8080
              handler: {type: tcp, chain: fwd}
              forwarder:
                nodes: [{name: target-0, addr: ':0'}]
            chains:
            - name: fwd
              hops:
              - name: hop-0
                nodes:
                - {name: node-0, addr: '10.0.0.1:9000', connector: {type: forward}}
                metadata: {proxyProtocol: 2}

            """
        let file = try configuration(text)
        let command = try RingwayConfiguration(
            serviceURLs: ["tcp://:8080/:0"], nodeURLs: ["forward://10.0.0.1:9000?proxyProtocol=2"])
        #expect(unnamed(file).services == command.services)
        #expect(file.services[0].chainName == nil)
    }
}

@Suite("Finding and loading configuration files")
struct ConfigFileLoadingTests {
    /// A fresh directory under /tmp, removed with its files by the caller.
    private func temporaryDirectory() throws -> String {
        var template = Array("/tmp/ringway-config-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
        }
        return try #require(made)
    }

    private func write(_ text: String, to path: String) throws {
        let file = try #require(fopen(path, "w"))
        fputs(text, file)
        fclose(file)
    }

    private func remove(_ directory: String) {
        for name in ["ringway.yaml", "ringway.yml", "ringway.json", "other.conf"] { unlink("\(directory)/\(name)") }
        rmdir(directory)
    }

    @Test func searchTakesTheFirstNameInTheFirstDirectory() throws {
        let first = try temporaryDirectory()
        let second = try temporaryDirectory()
        defer {
            remove(first)
            remove(second)
        }
        #expect(ConfigFile.search(directories: [first, second]) == nil)
        try write("{}", to: "\(second)/ringway.json")
        #expect(ConfigFile.search(directories: [first, second]) == "\(second)/ringway.json")
        try write("{}", to: "\(second)/ringway.yml")
        #expect(ConfigFile.search(directories: [first, second]) == "\(second)/ringway.yml")
        try write("{}", to: "\(first)/ringway.json")
        #expect(ConfigFile.search(directories: [first, second]) == "\(first)/ringway.json")
        try write("{}", to: "\(first)/ringway.yaml")
        #expect(ConfigFile.search(directories: [first + "/", second]) == "\(first)/ringway.yaml")
        // A directory of that name is not a file.
        unlink("\(first)/ringway.yaml")
        mkdir("\(first)/ringway.yaml", 0o700)
        defer { rmdir("\(first)/ringway.yaml") }
        #expect(ConfigFile.search(directories: [first]) == "\(first)/ringway.json")
    }

    /// The extension does not decide the format: JSON in a `.conf` file reads as JSON.
    @Test func loadReadsAFileWhateverItsName() throws {
        let directory = try temporaryDirectory()
        defer { remove(directory) }
        let path = "\(directory)/other.conf"
        try write(
            "{\"services\": [{\"name\": \"w\", \"addr\": \":8081\", \"handler\": {\"type\": \"whoami\"}}]}", to: path)
        #expect(try ConfigFile.load(path: path).services.map(\.name) == ["w"])
        try write("services:\n- name: w\n  addr: :8081\n  handler: {type: whoamI}\n  bad: 1\n", to: path)
        #expect(
            failure { () throws(ConfigurationError) in try ConfigFile.load(path: path) }?.description.hasPrefix(
                "\(path):5:3: services[0].bad: unknown key bad") == true)
    }

    @Test func unreadableFilesSayWhy() throws {
        let directory = try temporaryDirectory()
        defer { remove(directory) }
        #expect(
            failure { () throws(ConfigurationError) in try ConfigFile.load(path: "\(directory)/missing.yaml") }?
                .description
                == "-C \(directory)/missing.yaml: cannot be read: No such file or directory")
        #expect(
            failure { () throws(ConfigurationError) in try ConfigFile.load(path: directory) }?.description
                == "-C \(directory): cannot be read: it is a directory")
        let path = "\(directory)/other.conf"
        let file = try #require(fopen(path, "w"))
        fputs("services:\n- name: \u{FF}", file)
        fseek(file, -2, SEEK_END)
        fputc(0xFF, file)
        fclose(file)
        #expect(
            failure { () throws(ConfigurationError) in try ConfigFile.load(path: path) }?.description
                == "-C \(path): cannot be read: it is not UTF-8 text")
    }
}
