import Foundation
import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

/// Client bytes reach the upstream in the order they were written, whatever phase the
/// connection is in when they arrive: during the header peek, while the upstream connects, or
/// after the relay has started copying or splicing.
@Suite("Byte order", .serialized)
struct ByteOrderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let splice: Bool
        let sendHeader: Bool
        let receiveHeader: Bool
        /// Writes start right after connecting, or after the header timeout (and the connect).
        let late: Bool
        var testDescription: String {
            "\(splice ? "splice" : "copy"), \(sendHeader ? "sends PROXY" : "no header out"), "
                + "\(receiveHeader ? "receives PROXY" : "no header in"), \(late ? "late" : "immediate") writes"
        }
    }

    static let cases: [Case] = [false, true].flatMap { splice in
        [false, true].flatMap { send in
            [false, true].flatMap { receive in
                [false, true].map { late in Case(splice: splice, sendHeader: send, receiveHeader: receive, late: late) }
            }
        }
    }

    static let chunkCount = 40

    /// `000\n001\n...`: any reordering of chunks shows.
    static let expected = (0..<chunkCount).map { String(format: "%03d\n", $0) }.joined()

    /// What the upstream saw: the source of the PROXY header that led (nil without one) and the
    /// bytes behind it, from `describe`'s note (decoded independently of the codec).
    static func parse(_ note: String) -> (headerSource: String?, payload: String) {
        if note.hasPrefix("raw=") { return (nil, String(note.dropFirst(4))) }
        let source = note.split(separator: " ").first { $0.hasPrefix("source=") }.map { String($0.dropFirst(7)) }
        guard let payloadStart = note.range(of: " payload="), let payloadEnd = note.range(of: " firstRead=", options: .backwards)
        else { return (source, "") }
        return (source, String(note[payloadStart.upperBound..<payloadEnd.lowerBound]))
    }

    @Test(arguments: cases)
    func clientBytesKeepTheirOrder(_ test: Case) throws {
        let upstream = try proxyRecordingUpstream()
        defer { upstream.stop() }
        let receive = test.receiveHeader ? ProxyReceiveConfig(timeout: .milliseconds(30)) : nil
        let relay = try RelayFixture([forwardService(
            to: upstream.port, receive: receive, send: test.sendHeader ? ProxySendConfig(version: .v2) : nil,
            splice: test.splice)])
        defer { relay.stop() }
        let connections = 8
        let port = relay.port
        DispatchQueue.concurrentPerform(iterations: connections) { _ in
            guard let client = try? Sockets.connect(port: port) else { return }
            defer { close(client) }
            // A received header goes first, at once: the chunks then arrive behind it, during the
            // peek and the connect (immediate) or once relaying (late).
            if test.receiveHeader { try? Sockets.sendAll(client, v1Line("203.0.113.7", "198.51.100.1", 5555, 443)) }
            // Late: after the 30 ms header timeout, and after the upstream connect completed.
            if test.late { usleep(80_000) }
            for chunk in 0..<Self.chunkCount {
                try? Sockets.sendAll(client, String(format: "%03d\n", chunk))
                usleep(500)
            }
            shutdown(client, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(client)
        }
        #expect(relay.eventually(seconds: 10) { upstream.recorded.count == connections })
        let seen = upstream.recorded.map(Self.parse)
        let wrong = seen.filter { $0.payload != Self.expected }
        let closes = relay.closeSummary()
        #expect(wrong.isEmpty, "\(wrong.count) of \(connections) out of order, e.g. \(wrong.first?.payload.prefix(48) ?? ""); closes: \(closes)")
        // The header out names the client: the one the received header named, else the socket's.
        let source = test.receiveHeader ? "203.0.113.7:5555" : nil
        for (headerSource, _) in seen {
            #expect((headerSource != nil) == test.sendHeader, "a PROXY header leads exactly when the service sends one")
            if test.sendHeader, let source { #expect(headerSource == source) }
        }
    }
}
