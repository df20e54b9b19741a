import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// The figures of systemd's STATUS line: services and connections of the relay, the metrics
/// endpoint and its scrapers left out, as the metrics count them.
@Suite(.serialized) struct EngineStatusTests {
    @Test func theStatusLineCountsInWords() {
        #expect(EngineStatus(services: 3, openConnections: 120, acceptedConnections: 45210).description
            == "3 services, 120 open connections, 45210 accepted")
        #expect(EngineStatus(services: 1, openConnections: 1, acceptedConnections: 1).description
            == "1 service, 1 open connection, 1 accepted")
        #expect(EngineStatus(services: 0, openConnections: 0, acceptedConnections: 0).description
            == "0 services, 0 open connections, 0 accepted")
    }

    @Test func relayedConnectionsCountAndScrapesDoNot() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let metrics = MetricsEndpoint(listen: ListenAddress(host: .v4(.loopback), port: 0)).service
        let relay = try RelayFixture([forwardService(to: echo.port), metrics], workers: 2)
        defer { relay.stop() }
        #expect(relay.engine.status == EngineStatus(services: 1, openConnections: 0, acceptedConnections: 0))

        let client = try Sockets.connect(port: relay.port(0))
        try Sockets.sendAll(client, "x")
        #expect(try Sockets.receive(client, exactly: 1) == [UInt8(ascii: "x")])
        // A scrape held open: a connection of the metrics endpoint, not counted.
        let scraper = try Sockets.connect(port: relay.port(1))
        defer { close(scraper) }
        try Sockets.sendAll(scraper, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = Sockets.receiveHead(scraper)
        #expect(relay.metric("ringway_connections_active", service: "metrics") == 1)
        #expect(relay.engine.status == EngineStatus(services: 1, openConnections: 1, acceptedConnections: 1))

        close(client)
        #expect(relay.eventually { relay.engine.status.openConnections == 0 })
        #expect(relay.engine.status == EngineStatus(services: 1, openConnections: 0, acceptedConnections: 1))

        // A reload adding a service: two services, the accepted total carried on.
        var next = relay.engine.services  // bound ports filled in: kept as they are
        next.insert(forwardService(to: [echo.port], name: "added"), at: 1)
        let summary = try relay.engine.reload(services: next, logLevel: .info)
        #expect(summary.added == ["added"])
        #expect(relay.engine.status == EngineStatus(services: 2, openConnections: 0, acceptedConnections: 1))
    }
}
