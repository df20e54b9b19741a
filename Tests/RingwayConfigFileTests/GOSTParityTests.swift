import ProxyProtocol
import RingwayConfig
import RingwayConfigFile
import Testing

/// Places where Ringway's reading of a GOST configuration differs from what GOST v3 itself does
/// with the same file or command line. Each test states GOST's behaviour and where it is in
/// GOST's source; each fails until Ringway follows it.
@Suite("GOST parity")
struct GOSTParityTests {
    /// go-gost/x config/cmd/cmd.go `BuildConfigFromCmd` names the `-L` services `service-0`,
    /// `service-1`, ... on their own, and go-gost/gost cmd/gost/program.go `mergeConfig` (also
    /// go-gost/x config/parsing/parser/parser.go) only appends them to the file's services: the
    /// numbering does not start after the file's. (A file service already named `service-0` then
    /// makes GOST fail with `registry: duplicate object`.)
    @Test func commandLineServicesAreNumberedFromZeroBesideAFile() throws {
        let file = try parse(
            """
            services:
            - name: web
              addr: 127.0.0.1:18080
              handler:
                type: whoami

            """)
        let merged = try RingwayConfiguration(file: file, serviceURLs: ["whoami://127.0.0.1:18081"])
        #expect(merged.services.map(\.name) == ["web", "service-0"])
    }

    /// go-gost/x config/cmd/cmd.go `buildServiceConfig`: the targets of one `-L` are named
    /// `target-0`, `target-1`, ... across the whole list, and with N bind ports and N targets
    /// service i gets `nodes[i]` with its name: `service-1`'s node is `target-1` (the forward
    /// handler logs it as `"node"`). Ringway renumbers per service.
    @Test func portRangeTargetsKeepTheirCommandLineNames() throws {
        let command = try RingwayConfiguration(serviceURLs: ["tcp://127.0.0.1:18000-18001/10.0.0.1:9000-9001"])
        let text = ConfigFile.render(command, as: .yaml)
        #expect(text.contains("name: target-1"), "\(text)")
    }

    /// go-gost/x config/cmd/cmd.go `BuildConfigFromCmd` leaves `node.*` keys of a `-F` query to
    /// `buildNodeConfig`, which puts `node.proxyProtocol` in the node's metadata; go-gost/x
    /// config/parsing/node/parse.go `ParseNode` gives it to the dialer
    /// (`dialer.ProxyProtocolOption(mdutil.GetInt(md, "proxyProtocol"))`): GOST sends the header.
    @Test func nodeScopedProxyProtocolOnAHopSendsTheHeader() throws {
        let hop = try ChainHop(parsing: "http://10.0.0.1:8000?node.proxyProtocol=2")
        #expect(hop.sendProxy == .v2)
    }

    /// GOST's metrics endpoint is not a service (go-gost/gost cmd/gost/program.go
    /// `buildMetricsService`), so GOST lets a service be named `metrics`. Ringway's endpoint labels
    /// its own series `service="metrics"`: the name is refused with the reason rather than mixing
    /// two services' series (README, Configuration files).
    @Test func aServiceNamedMetricsBesideTheEndpointIsRefusedWithTheReason() throws {
        let text = """
            services:
            - name: metrics
              addr: 127.0.0.1:18090
              handler:
                type: whoami
            metrics:
              addr: 127.0.0.1:19100

            """
        let problem = failure { () throws(ConfigurationError) in try configuration(text) }
        #expect(problem?.description.contains("series carry service=\"metrics\"") == true, "\(problem?.description ?? "none")")
    }

    /// A file service that takes a name the -L services get is refused, as GOST's registry
    /// refuses the duplicate (`registry: duplicate object`).
    @Test func aFileServiceNamedLikeACommandLineOneIsRefused() throws {
        let file = try parse(
            """
            services:
            - name: service-0
              addr: 127.0.0.1:18080
              handler:
                type: whoami

            """)
        #expect(throws: ConfigurationError.self) {
            _ = try RingwayConfiguration(file: file, serviceURLs: ["whoami://127.0.0.1:18081"])
        }
    }

    /// GOST's connector and dialer read no proxyProtocol: a key scoped there is a mistake.
    @Test func connectorScopedProxyProtocolIsRefused() {
        #expect(throws: ConfigurationError.self) { _ = try ChainHop(parsing: "http://10.0.0.1:8000?dialer.proxyProtocol=2") }
    }
}
