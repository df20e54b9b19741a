import ProxyProtocol
import RingwayConfig
import Testing

@Suite("Target resolution")
struct TargetResolutionTests {
    @Test func localhostResolvesToLoopback() throws {
        let addresses = try TargetResolution.addresses(of: "localhost")
        #expect(addresses.contains(ip(127, 0, 0, 1)))
        #expect(addresses.allSatisfy { $0.isLoopback })
        #expect(Set(addresses).count == addresses.count)
    }

    @Test(arguments: [("127.0.0.1", ip(127, 0, 0, 1)), ("::1", ipv6Loopback), ("192.0.2.7", ip(192, 0, 2, 7))])
    func literalsNeedNoLookup(_ host: String, _ expected: IPAddress) throws {
        #expect(try TargetResolution.addresses(of: host) == [expected])
    }

    @Test func emptyHostIsTheLocalMachine() throws {
        let local = try TargetResolution.addresses(of: "")
        #expect(local.first == ip(127, 0, 0, 1))
        #expect(local == TargetResolution.localMachine())
        #expect(local.allSatisfy { $0.isLoopback })
    }

    @Test func unknownNameIsAnError() throws {
        #expect(throws: HostLookupError.self) { try TargetResolution.addresses(of: "no-such-host.invalid") }
        var service = try #require(try ServiceURL.parse("tcp://:8080/127.0.0.1:81,no-such-host.invalid:80").first)
        let error = try #require(problem { () throws(ConfigurationError) in try service.resolveTargets() })
        #expect(error.description.hasPrefix("target no-such-host.invalid:80 of service-0 does not resolve: "))
        #expect(error.description.count > "target no-such-host.invalid:80 of service-0 does not resolve: ".count)
    }

    @Test func configurationResolvesEveryTarget() throws {
        var configuration = try RingwayConfiguration(serviceURLs: [
            "tcp://:8080/localhost:80,[::1]:81,127.0.0.1:82,:83", "whoami://:9000",
        ])
        try configuration.resolveTargets()
        let targets = configuration.services[0].targets
        #expect(targets[0].resolved.contains(IPEndpoint(address: ip(127, 0, 0, 1), port: 80)))
        #expect(targets[1].resolved == [IPEndpoint(address: ipv6Loopback, port: 81)])
        #expect(targets[2].resolved == [IPEndpoint(address: ip(127, 0, 0, 1), port: 82)])
        #expect(targets[3].resolved.first == IPEndpoint(address: ip(127, 0, 0, 1), port: 83))
        #expect(targets.allSatisfy { $0.resolved.allSatisfy { $0.address.isLoopback } })
        #expect(configuration.services[1].targets.isEmpty)
    }
}
