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

    /// Records every byte the relay sends, minus a PROXY header when one leads.
    func recordingUpstream() throws -> ScriptedUpstream {
        try ScriptedUpstream { fd, upstream in
            var received: [UInt8] = []
            while true {
                let (bytes, code) = Sockets.receiveOnce(fd)
                if code != 0 || bytes.isEmpty { break }
                received += bytes
            }
            var payload = received[...]
            if case .header(_, let consumed) = ProxyHeaderDetector().detect(received) { payload = received[consumed...] }
            upstream.note(String(decoding: payload, as: UTF8.self))
            close(fd)
        }
    }

    @Test(arguments: cases)
    func clientBytesKeepTheirOrder(_ test: Case) throws {
        let upstream = try recordingUpstream()
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
        let wrong = upstream.recorded.filter { $0 != Self.expected }
        #expect(wrong.isEmpty, "\(wrong.count) of \(connections) out of order, e.g. \(wrong.first?.prefix(48) ?? "")")
    }
}
