import Foundation
import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// Every close reason: documented in the README with its level, and, where a client or an
/// upstream can cause it, produced over real sockets and logged at that level and counted.
@Suite("Close reasons", .serialized)
struct CloseReasonTests {
    static func readme() throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The README's paragraph that lists the reasons, and the names it gives as info.
    @Test func theReadmeListsEveryReasonWithItsLevel() throws {
        let text = try Self.readme()
        let paragraph = try #require(text.components(separatedBy: "Close reasons (").dropFirst().first?
            .components(separatedBy: "have lines of their own").first)
        for reason in CloseReason.allCases {
            #expect(paragraph.contains("`\(reason.name)`"), "\(reason.name) is not in the README's list")
        }
        let infoClause = try #require(paragraph.components(separatedBy: "close at `info`").first?
            .components(separatedBy: ".").last)
        let documentedInfo = Set(CloseReason.allCases.map(\.name).filter { infoClause.contains("`\($0)`") })
        let info = Set(CloseReason.allCases.filter { $0.logLevel == .info }.map(\.name))
        #expect(documentedInfo == info)
        #expect(CloseReason.allCases.allSatisfy { $0.logLevel == .info || $0.logLevel == .warn })
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        let reason: String
        let service: @Sendable (UInt16) -> ServiceConfig
        /// Plays the client (and decides how the upstream behaves through the service's port).
        let client: @Sendable (UInt16) throws -> Void
        var testDescription: String { reason }
    }

    static func whoami(requestTimeout: Duration = .seconds(10)) -> ServiceConfig {
        ServiceConfig(
            name: "service-0", kind: .whoami, listen: ListenAddress(host: .v4(.loopback), port: 0),
            requestTimeout: requestTimeout)
    }

    /// Sends `bytes` and waits for the relay to end the connection.
    static func sendAndWait(_ bytes: [UInt8], reset: Bool = false) -> @Sendable (UInt16) throws -> Void {
        { port in
            let client = try Sockets.connect(port: port)
            try Sockets.sendAll(client, bytes)
            if reset {
                usleep(100_000)
                Sockets.reset(client)
                return
            }
            _ = closedByRelay(client, withinMilliseconds: 5000)
            close(client)
        }
    }

    static let scenarios: [Scenario] = [
        Scenario(reason: "finished", service: { forwardService(to: $0) }, client: { port in
            let client = try Sockets.connect(port: port)
            shutdown(client, Int32(SHUT_WR))
            _ = try Sockets.receiveAll(client)
            close(client)
        }),
        Scenario(reason: "client_reset", service: { forwardService(to: $0) }, client: sendAndWait(ascii("x"), reset: true)),
        Scenario(reason: "idle_timeout", service: { forwardService(to: $0, idleTimeout: .milliseconds(200)) }, client: { port in
            let client = try Sockets.connect(port: port)
            defer { close(client) }
            try Sockets.sendAll(client, "x")
            _ = try Sockets.receive(client, exactly: 1)  // the echo, then silence
            _ = closedByRelay(client, withinMilliseconds: 5000)
        }),
        Scenario(reason: "proxy_header_invalid", service: { forwardService(to: $0, receive: ProxyReceiveConfig()) },
                 client: sendAndWait(ascii("PROXY TCP4 1.2.3 1.2.3.4 1 2\r\n"))),
        Scenario(reason: "proxy_header_missing", service: { forwardService(to: $0, receive: ProxyReceiveConfig(policy: .require)) },
                 client: sendAndWait(ascii("GET / HTTP/1.1\r\n\r\n"))),
        Scenario(reason: "proxy_header_untrusted",
                 service: { forwardService(to: $0, receive: ProxyReceiveConfig(trustedProxies: [CIDR("10.0.0.0/8")!])) },
                 client: sendAndWait(ascii("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))),
        Scenario(reason: "proxy_header_timeout",
                 service: { forwardService(to: $0, receive: ProxyReceiveConfig(policy: .require, timeout: .milliseconds(100))) },
                 client: sendAndWait(ascii("PROX"))),
        Scenario(reason: "bad_request", service: { _ in whoami() }, client: sendAndWait(ascii("NOPE\r\n\r\n"))),
        Scenario(reason: "request_timeout", service: { _ in whoami(requestTimeout: .milliseconds(100)) },
                 client: sendAndWait(ascii("GET"))),
    ]

    /// An upstream that echoes what it gets and stays open until the client goes.
    static func echoUpstream() throws -> ScriptedUpstream { try ScriptedUpstream.echo() }

    @Test(arguments: scenarios)
    func loggedAtItsLevelAndCounted(_ scenario: Scenario) throws {
        let upstream = try Self.echoUpstream()
        defer { upstream.stop() }
        let relay = try RelayFixture([scenario.service(upstream.port)])
        defer { relay.stop() }
        try scenario.client(relay.port)
        #expect(relay.eventually { relay.closes(scenario.reason) == 1 })
        let reason = try #require(CloseReason.allCases.first { $0.name == scenario.reason })
        let line = relay.logs.waitForLine(containing: ["\"reason\":\"\(scenario.reason)\"", " >< "])
        #expect(line?.contains("\"level\":\"\(reason.logLevel)\"") == true, "\(line ?? "no close line")")
    }

    /// The upstream side: a reset from it (refusals and connect timeouts are in
    /// UpstreamFailureTests).
    @Test func upstreamResetIsLoggedAtWarn() throws {
        let upstream = try ScriptedUpstream { fd, _ in
            _ = Sockets.receiveOnce(fd)
            Sockets.reset(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port)])
        defer { relay.stop() }
        try Self.sendAndWait(ascii("x"))(relay.port)
        #expect(relay.eventually { relay.closes("upstream_reset") == 1 })
        #expect(relay.logs.waitForLine(containing: ["\"reason\":\"upstream_reset\"", "\"level\":\"warn\""]) != nil)
    }
}
