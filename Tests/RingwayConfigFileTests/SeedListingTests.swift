import RingwayConfig
import RingwayConfigFile
import RingwayTestSupport
import Testing

/// GOST's own documentation listings load, and mean what the equivalent GOST command lines mean.
@Suite("GOST's PROXY protocol page")
struct SeedListingTests {
    /// YAML forbids tabs in indentation; libyaml says only "found character that cannot start any
    /// token". The error names the line and says what to fix.
    @Test func aTabInTheIndentationIsNamed() {
        let error = failure { () throws(ConfigurationError) in try parse(GOSTPageListings.receiveWithTab) }
        #expect(
            error?.description == "ringway.yaml:8:1: a tab indents this line; YAML allows only spaces for indentation")
        #expect(error?.problem == .tabIndentation)
    }

    /// The page's markdown source keeps its four-space code indentation; the tab is still found.
    @Test func aTabAfterSpacesIsNamedToo() {
        let indented = GOSTPageListings.receiveWithTab.split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("\t") || $0.isEmpty ? String($0) : "    " + $0 }.joined(separator: "\n")
        let spacesThenTab = GOSTPageListings.receive.replacing("  metadata:", with: "  \tmetadata:")
        for text in [indented, spacesThenTab] {
            let error = failure { () throws(ConfigurationError) in try parse(text) }
            #expect(error?.problem == .tabIndentation, "\(error?.description ?? "parsed")")
            #expect(error?.description.hasPrefix("ringway.yaml:8:") == true, "\(error?.description ?? "parsed")")
        }
    }

    /// `gost -L=:8080?proxyProtocol=1`: GOST's auto proxy (here `http`) that accepts PROXY headers.
    @Test func receivingIsTheServiceMetadata() throws {
        let file = try configuration(GOSTPageListings.receive)
        let command = try RingwayConfiguration(serviceURLs: ["http://:8080?proxyProtocol=1"])
        #expect(file.services == command.services)
        #expect(file.services[0].receiveProxy == ProxyReceiveConfig())
        #expect(file.services[0].sendProxy == nil)
    }

    /// `gost -L tcp://:8080/:8000?handler.proxyProtocol=1`: the handler's metadata sends.
    @Test func sendingIsTheHandlerMetadata() throws {
        let file = try configuration(GOSTPageListings.forwardNode)
        let command = try RingwayConfiguration(serviceURLs: ["tcp://:8080/:8000?handler.proxyProtocol=1"])
        #expect(unnamed(file).services == command.services)
        #expect(file.services[0].sendProxy == ProxySendConfig(version: .v1))
        #expect(file.services[0].receiveProxy == nil)
        #expect(file.services[0].targets.map(\.name) == ["target-0"])
    }

    /// `gost -L :8080 -F http://:8000?proxyProtocol=1`: the hop's metadata sends to the hop.
    @Test func aHopsMetadataSendsToTheHop() throws {
        let file = try configuration(GOSTPageListings.proxyNode)
        let command = try RingwayConfiguration(serviceURLs: [":8080"], nodeURLs: ["http://:8000?proxyProtocol=1"])
        #expect(unnamed(file).services == command.services)
        let service = try #require(file.services.first)
        #expect(
            service.chain == [
                ChainHop(
                    .http, targets: [TargetAddress(host: "", port: 8000, name: "node-0")], sendProxy: .v1, name: "hop-0"
                )
            ])
        #expect(service.chainName == "chain-0")
        #expect(service.sendProxy == nil)
        // The page's proxy listens on every address without credentials: warned about, as on the command line.
        #expect(
            file.warnings.count == 1
                && file.warnings[0].hasPrefix("ringway.yaml:2:5: services[0]: a auto proxy without handler.auth"),
            "\(file.warnings)")
    }
}
