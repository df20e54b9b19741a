import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// What the process holds — memory, descriptors, slots — comes back when load passes, stays
/// under the ceilings an operator sets, and a stalled log reader cannot stop the relay. Measured
/// from outside, on the release binary, through /proc and the metrics endpoint.
@Suite("Resources of the running process", .serialized)
struct ResourceTests {
    static let mebibyte = 1 << 20

    /// Clients that never read pin receive buffers (about 40 MiB here: 40 downloads from an
    /// upstream that sends as fast as it can, 2 buffers of 512 KiB each); once they leave, idle
    /// buffers are released (MADV_DONTNEED) and resident memory falls back. The trim runs once a
    /// second and keeps twice the last second's peak, so it takes one to two trims: 1.5-1.6 s
    /// measured on an idle machine (README: "within about two seconds"); 4 s allowed for load.
    @Test func bufferMemoryComesBackAfterSlowReadersLeave() throws {
        let flood = try FloodingUpstream()
        defer { flood.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "1", "--metrics", "127.0.0.1:\(metrics)", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(flood.port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let pid = ringway.process.processIdentifier
        usleep(300_000)
        let baseline = ProcessProbe.residentBytes(of: pid)
        let clients = (0..<40).compactMap { _ in try? Sockets.connect(port: port) }
        #expect(clients.count == 40)
        #expect(becomesTrue(within: 10) { (ProcessProbe.metric("ringway_buffers_in_use", port: metrics) ?? 0) >= 80 })
        usleep(200_000)
        let loaded = ProcessProbe.residentBytes(of: pid)
        #expect(loaded - baseline > 30 * Self.mebibyte, "40 clients × 2 buffers of 512 KiB: \(loaded - baseline) bytes")
        clients.forEach { Sockets.reset($0) }
        let left = monotonicSeconds()
        var now = loaded
        let fellBack = becomesTrue(within: 4, interval: 100_000) {
            now = ProcessProbe.residentBytes(of: pid)
            return now - baseline < 12 * Self.mebibyte
        }
        #expect(fellBack, "baseline \(baseline), loaded \(loaded), now \(now) after \(monotonicSeconds() - left) s")
        // What stays: the main pool's low-water mark (8 MiB) and the reserve's (16 × 16 KiB).
        var buffered: UInt64 = 0
        #expect(becomesTrue(within: 5) {
            buffered = ProcessProbe.metric("ringway_buffer_memory_bytes", port: metrics) ?? .max
            return buffered <= UInt64(8 * Self.mebibyte + 16 * 16384)
        }, "ringway_buffer_memory_bytes \(buffered)")
    }

    /// `--buffer-memory` caps what slow readers can pin, whatever their number.
    @Test func bufferMemoryStaysUnderTheCeiling() throws {
        let stalled = try StalledUpstream()
        defer { stalled.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "1", "--buffer-memory", "12MiB", "--metrics", "127.0.0.1:\(metrics)",
            "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(stalled.port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        let pid = ringway.process.processIdentifier
        usleep(300_000)
        let baseline = ProcessProbe.residentBytes(of: pid)
        var highest: UInt64 = 0
        // Pushes for the whole 3 s, recording the highest gauge seen.
        let (clients, _) = try pushClients(count: 60, port: port, seconds: 3) {
            highest = max(highest, ProcessProbe.metric("ringway_buffer_memory_bytes", port: metrics) ?? 0)
            return false
        }
        defer { clients.forEach { close($0) } }
        let loaded = ProcessProbe.residentBytes(of: pid)
        #expect(highest > UInt64(8 * Self.mebibyte), "the clients should have filled the pools: \(highest)")
        #expect(highest <= UInt64(12 * Self.mebibyte), "ringway_buffer_memory_bytes reached \(highest)")
        // 60 clients × 2 buffers of 512 KiB would be 60 MiB without the ceiling.
        #expect(loaded - baseline < 18 * Self.mebibyte, "grew by \(loaded - baseline) bytes")
        #expect((ProcessProbe.metric("ringway_buffer_pool_exhausted_total{service=\"service-0\"}", port: metrics) ?? 0) > 0)
    }

    @Test func aBufferMemoryTooSmallForTheWorkersIsAUsageError() throws {
        let (status, _, stderr) = try runRingway(["--workers", "2", "--buffer-memory", "1MiB", "-L", "tcp://127.0.0.1:9/127.0.0.1:9"])
        #expect(status == 2)
        #expect(stderr.contains("--buffer-memory") && stderr.contains("at least"), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1)
    }

    /// Splice mode, connections reset by their clients while the upstream stays silent (as wrk
    /// does at exit with keep-alive upstreams): every slot and descriptor comes back.
    @Test func spliceConnectionsResetByClientsReleaseEverything() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "1", "--log-level", "warn", "--metrics", "127.0.0.1:\(metrics)",
            "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)?splice=true",
        ])
        #expect(becomesTrue(within: 10) { ProcessProbe.metric("ringway_buffers_in_use", port: metrics) != nil })
        let pid = ringway.process.processIdentifier
        let before = ProcessProbe.openDescriptors(of: pid)
        #expect(before > 0, "the relay's descriptors could not be counted")
        for _ in 0..<4 {
            let clients = (0..<200).compactMap { _ in try? Sockets.connect(port: port) }
            #expect(clients.count == 200)
            for client in clients { try? Sockets.sendAll(client, "GET / HTTP/1.1\r\n\r\n") }
            for client in clients { _ = try? Sockets.receive(client, exactly: 18) }
            clients.forEach { Sockets.reset($0) }
        }
        let active = "ringway_connections_active{service=\"service-0\"}"
        #expect(becomesTrue(within: 8) { ProcessProbe.metric(active, port: metrics) == 0 },
                "still active: \(ProcessProbe.metric(active, port: metrics) ?? 9999)")
        #expect(becomesTrue(within: 8) { ProcessProbe.openDescriptors(of: pid) == before },
                "descriptors \(before) before, \(ProcessProbe.openDescriptors(of: pid)) after")
        #expect(ProcessProbe.metric("ringway_connections_closed_total{service=\"service-0\"}", port: metrics) == 800)
    }

    /// stderr is a pipe nobody reads: once it is full, lines are dropped and counted, the
    /// relay keeps relaying, and a warning says so when the reader comes back.
    @Test func aStalledLogReaderDoesNotStopTheRelay() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: RingwayBinary.path)
        process.arguments = [
            "--workers", "1", "--metrics", "127.0.0.1:\(metrics)", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)",
        ]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { process.stop(grace: 5) }
        #expect(becomesTrue(within: 10) { ProcessProbe.metric("ringway_buffers_in_use", port: metrics) != nil })
        // Two info lines per connection fill the 64 KiB pipe and the worker's 64 KiB buffer.
        var failures = 0
        for index in 0..<600 {
            guard let client = try? Sockets.connect(port: port, timeoutSeconds: 3) else {
                failures += 1
                continue
            }
            let message = "hello \(index)"
            let echoed = (try? Sockets.sendAll(client, message)).flatMap { _ -> [UInt8]? in
                shutdown(client, Int32(SHUT_WR))
                return try? Sockets.receiveAll(client)
            }
            if echoed != Array(message.utf8) { failures += 1 }
            close(client)
            if failures > 3 { break }
        }
        #expect(failures == 0, "\(failures) exchanges failed while the log pipe was full")
        let dropped = ProcessProbe.metric("ringway_log_lines_dropped_total", port: metrics) ?? 0
        #expect(dropped > 0)
        // The reader comes back: the warning queued when dropping started, then a summary.
        let reader = stderr.fileHandleForReading.fileDescriptor
        setNonBlocking(reader)
        var text = ""
        let sawSummary = becomesTrue(within: 5) {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                text += String(decoding: buffer[0..<count], as: UTF8.self)
            }
            if let client = try? Sockets.connect(port: port) { close(client) }  // something to log
            return text.contains("log output moves again")
        }
        #expect(text.contains("log output is not keeping up"))
        #expect(sawSummary, "\(text.suffix(300))")
        #expect(text.split(separator: "\n").allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") }, "only whole JSON lines")
    }

    /// Both pools exhausted (tiny ceiling), a small slab (few descriptors), and connections
    /// churning through receives that wait for buffers and then end (their upstream resets):
    /// the waiting entries leave with their connections, the process stays up, and connections
    /// move again once buffers are free.
    @Test func churnWithExhaustedPoolsKeepsTheProcessUp() throws {
        let stalled = try StalledUpstream()
        defer { stalled.stop() }
        let resetting = try ScriptedUpstream { fd, _ in
            usleep(30_000)
            Sockets.reset(fd)
        }
        defer { resetting.stop() }
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (port, churnPort, echoPort, metrics) = (try freePort(), try freePort(), try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "--workers", "1", "--buffers", "2", "--buffer-size", "4096", "--buffer-memory", "320KiB",
            "--log-level", "warn", "--metrics", "127.0.0.1:\(metrics)",
            "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(stalled.port)",
            "-L", "tcp://127.0.0.1:\(churnPort)/127.0.0.1:\(resetting.port)",
            "-L", "tcp://127.0.0.1:\(echoPort)/127.0.0.1:\(echo.port)",
        ], shellPrefix: "ulimit -n 256")
        #expect(becomesTrue(within: 10) { ProcessProbe.metric("ringway_buffers_in_use", port: metrics) != nil })
        // 2 main + 20 reserve buffers of 4 KiB: 12 stalled clients × 2 hold them all.
        let (holders, waiting) = try pushClients(count: 12, port: port, seconds: 5) {
            (ProcessProbe.metric("ringway_buffer_waits_total{service=\"service-0\"}", port: metrics) ?? 0) > 0
        }
        #expect(waiting, "no receive ever waited for a buffer: the churn below would test nothing")
        // More waiting receives than the old queue (twice the 112-slot slab: 224) could hold.
        for _ in 0..<12 {
            let batch = (0..<40).compactMap { _ in try? Sockets.connect(port: churnPort) }
            for client in batch { try? Sockets.sendAll(client, "waits for a buffer") }
            for client in batch { _ = closedByRelay(client, withinMilliseconds: 2000) }
            batch.forEach { close($0) }
        }
        #expect(ringway.process.isRunning)
        let waits = ProcessProbe.metric("ringway_buffer_waits_total{service=\"service-1\"}", port: metrics) ?? 0
        #expect(waits > 224, "the churn should have waited for buffers: \(waits)")
        #expect(becomesTrue(within: 5) {
            ProcessProbe.metric("ringway_connections_active{service=\"service-1\"}", port: metrics) == 0
        })
        stalled.release()
        holders.forEach { Sockets.reset($0) }
        let moved = becomesTrue(within: 5, interval: 100_000) {
            guard let client = try? Sockets.connect(port: echoPort) else { return false }
            defer { close(client) }
            guard (try? Sockets.sendAll(client, "ping")) != nil else { return false }
            shutdown(client, Int32(SHUT_WR))
            return (try? Sockets.receiveAll(client)) == Array("ping".utf8)
        }
        #expect(moved)
    }
}
