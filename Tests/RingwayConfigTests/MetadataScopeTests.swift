import ProxyProtocol
import Testing

@testable import RingwayConfig

/// The entry point a YAML loader uses: each `metadata:` map feeds its keys with the map's scope.
@Suite("Metadata scopes")
struct MetadataScopeTests {
    @Test func yamlMetadataMapsFeedTheSameSettings() throws {
        var settings = ServiceSettings(kind: .forward)
        try settings.apply(scope: .service, name: "proxyProtocol", value: "1")  // services[].metadata
        try settings.apply(scope: .service, name: "dialTimeout", value: "5s")
        try settings.apply(scope: .handler, name: "proxyProtocol", value: "2")  // services[].handler.metadata
        try settings.apply(scope: .handler, name: "idleTimeout", value: "0")
        let service = try settings.makeService(
            name: "web",
            listen: listen(8080),
            targets: [target("10.0.0.1", 80)],
            node: nil
        )
        #expect(service.receiveProxy == ProxyReceiveConfig())
        #expect(service.sendProxy == ProxySendConfig(version: .v2))
        #expect(service.connectTimeout == .seconds(5))
        #expect(service.idleTimeout == .zero)
    }

    @Test(arguments: [
        (MetadataScope.listener, "proxyProtocol", "listener.proxyProtocol has no effect in that scope"),
        (.handler, "dialTimeout", "handler.dialTimeout has no effect in that scope; use dialTimeout or service."),
        (.service, "splice", "service.splice has no effect in that scope; use splice or handler.splice"),
    ])
    func wrongMapIsAnError(_ scope: MetadataScope, _ name: String, _ fragment: String) {
        var settings = ServiceSettings(kind: .forward)
        #expect {
            try settings.apply(scope: scope, name: name, value: "1")
        } throws: { error in
            (error as? ConfigurationProblem)?.description.contains(fragment) == true
        }
    }

    @Test(arguments: [
        ("proxyProtocol", ServiceKey.receiveProxy),
        ("service.proxyProtocol", .receiveProxy),
        ("handler.proxyProtocol", .sendProxy),
        ("Handler.ProxyProtocol", .sendProxy),
        ("proxyProtocolTLV.uniqueId", .uniqueIDTLV),
        ("handler.proxyProtocolTLV.uniqueId", .uniqueIDTLV),
        ("service.maxConnections", .maxConnections),
    ])
    func keysReachTheirHomeScope(_ written: String, _ expected: ServiceKey) throws {
        #expect(try ServiceKey.resolve(written) == expected)
    }
}
