import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// Node names from a configuration file (`forwarder.nodes[].name`) reach the connection lines as
/// GOST's `node` field; unnamed targets get GOST's command-line names.
@Suite("Node names in logs")
struct NodeNameLogTests {
    @Test func theConnectedLineNamesTheNode() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        var named = forwardService(to: [echo.port], name: "named")
        named.targets[0].name = "web-1"
        let unnamed = forwardService(to: [echo.port], name: "unnamed")
        let relay = try RelayFixture([named, unnamed], logLevel: .debug)
        defer { relay.stop() }
        for port in [relay.port(0), relay.port(1)] {
            let fd = try Sockets.connect(port: port)
            try Sockets.sendAll(fd, "x")
            _ = try Sockets.receive(fd, exactly: 1)
            close(fd)
        }
        #expect(relay.logs.waitForLine(containing: ["\"service\":\"named\"", "\"node\":\"web-1\"", " <-> "]) != nil)
        #expect(relay.logs.waitForLine(containing: ["\"service\":\"named\"", "\"node\":\"web-1\"", " >> "]) != nil)
        #expect(relay.logs.waitForLine(containing: ["\"service\":\"unnamed\"", "\"node\":\"target-0\"", " <-> "]) != nil)
    }

    @Test func aFailedConnectNamesTheNode() throws {
        var service = forwardService(to: [try closedPort()], name: "down")
        service.targets[0].name = "db-primary"
        let relay = try RelayFixture([service])
        defer { relay.stop() }
        let fd = try Sockets.connect(port: relay.port)
        defer { close(fd) }
        #expect(closedByRelay(fd))
        #expect(relay.logs.waitForLine(containing: ["\"node\":\"db-primary\"", "connect to"]) != nil)
    }
}
