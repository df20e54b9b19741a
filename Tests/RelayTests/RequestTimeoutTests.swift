import Foundation
import Glibc
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// The built-in HTTP services give each request a fixed time from its first byte: bytes that
/// trickle in do not extend it (they used to, through the idle timer), while a keep-alive
/// connection may wait between requests for as long as its idle timeout allows.
@Suite("Request timeout of built-in HTTP services", .serialized)
struct RequestTimeoutTests {
    func whoamiRelay(requestTimeout: Duration, idleTimeout: Duration = .seconds(60)) throws -> RelayFixture {
        try RelayFixture([ServiceConfig(
            name: "service-0", kind: .whoami, listen: ListenAddress(host: .v4(.loopback), port: 0),
            idleTimeout: idleTimeout, requestTimeout: requestTimeout)])
    }

    @Test func aRequestDribbledByteByByteIsCutOff() throws {
        let relay = try whoamiRelay(requestTimeout: .milliseconds(600))
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        let started = monotonicSeconds()
        var closed = false
        for byte in ascii("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n") {
            if (try? Sockets.sendAll(client, [byte])) == nil || Sockets.readable(client, within: 100) {
                closed = true
                break
            }
        }
        #expect(closed || closedByRelay(client, withinMilliseconds: 2000))
        let elapsed = monotonicSeconds() - started
        #expect(elapsed >= 0.5 && elapsed < 2.5, "closed after \(elapsed) s")
        #expect(relay.eventually { relay.closes("request_timeout") == 1 })
    }

    @Test func aClientThatSaysNothingIsClosedAtTheRequestTimeout() throws {
        let relay = try whoamiRelay(requestTimeout: .milliseconds(300))
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        #expect(closedByRelay(client, withinMilliseconds: 3000))
        #expect(relay.eventually { relay.closes("request_timeout") == 1 })
    }

    /// Between requests the idle timeout applies; the next request's clock starts with its
    /// first byte.
    @Test func keepAliveConnectionsMayWaitBetweenRequests() throws {
        let relay = try whoamiRelay(requestTimeout: .milliseconds(300))
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        for round in 0..<2 {
            try Sockets.sendAll(client, "GET /\(round) HTTP/1.1\r\nHost: x\r\n\r\n")
            var response: [UInt8] = []
            let answered = becomesTrue(within: 3) {
                let (bytes, code) = Sockets.receiveOnce(client)
                response += bytes
                return code != 0 || bytes.isEmpty || String(decoding: response, as: UTF8.self).contains("request: GET /\(round)")
            }
            #expect(answered && String(decoding: response, as: UTF8.self).contains("request: GET /\(round) HTTP/1.1"))
            usleep(700_000)  // longer than the request timeout, shorter than the idle timeout
        }
        #expect(relay.closes("request_timeout") == 0)
        #expect(relay.metric("ringway_http_requests_total") == 2)
    }
}
