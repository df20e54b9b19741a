import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Relaying allocates nothing per byte and nothing per connection: the buffers, slots, pipes and
/// completions all live in memory set up once. valgrind counts every heap allocation exactly, so
/// a short run and a long run of the same relay must report the same count (start-up and exit
/// allocate alike in both); a malloc per loop turn or per connection shows as hundreds more.
@Suite("Allocations while relaying", .serialized)
struct AllocationTests {
    static let valgrindMissing = Peer.valgrind == nil

    @Test(.disabled(if: valgrindMissing, "valgrind is not installed (scripts/setup --peers installs it)"),
          arguments: [false, true])
    func relayingAllocatesNothingPerByteOrConnection(splice: Bool) throws {
        let short = try heapAllocations(splice: splice, connections: 2, bytesEach: 256 << 10)
        let long = try heapAllocations(splice: splice, connections: 24, bytesEach: 4 << 20)
        // A little slack for what the runtime may do lazily; a per-turn or per-connection
        // allocation adds hundreds.
        #expect(long >= short && long - short <= 16, "\(short) allocations for 2 small connections, \(long) for 24 large ones")
    }

    /// Heap allocations of a whole relay run (`--log-level warn`, so connections that end well
    /// log nothing) that echoes `bytesEach` bytes over each of `connections` connections.
    private func heapAllocations(splice: Bool, connections: Int, bytesEach: Int) throws -> Int {
        let upstream = try ScriptedUpstream.echo()
        let port = try freePort()
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-valgrind-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: report) }
        let relay = try RingwayProcess(
            ["-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(upstream.port)\(splice ? "?splice=true" : "")",
             "--workers", "1", "--log-level", "warn"],
            launcher: [Peer.valgrind!, "--tool=memcheck", "--undef-value-errors=no", "--log-file=\(report.path)"])
        // valgrind starts slowly: wait for the socket rather than the log line.
        #expect(waitForListener(port, seconds: 60), "ringway did not start under valgrind")
        // The probe connection above is one more connection in both runs alike.
        let payload = [UInt8](repeating: 0x5A, count: bytesEach)
        for _ in 0..<connections {
            let client = try Sockets.connect(port: port)
            defer { close(client) }
            Sockets.setTimeouts(client, seconds: 30)
            let sender = Thread { try? Sockets.sendAll(client, payload) }
            sender.start()
            let echoed = try Sockets.receive(client, exactly: bytesEach)
            #expect(echoed.count == bytesEach)
        }
        relay.signal(SIGINT)
        #expect(relay.waitForExit(seconds: 60) == 0, "ringway under valgrind did not exit cleanly: \(relay.lines.suffix(5))")
        let text = try String(contentsOf: report, encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.contains("total heap usage:") }),
              let count = Int(line.split(separator: "usage:").last?.split(separator: " ").first?.replacingOccurrences(of: ",", with: "") ?? "")
        else {
            Issue.record("no heap summary in valgrind's report:\n\(text.suffix(2000))")
            return -1
        }
        return count
    }
}
