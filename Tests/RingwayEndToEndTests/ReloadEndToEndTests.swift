import Foundation
import Glibc
import RingwayTestSupport
import Synchronization
import Testing

/// A connection through the relay that keeps sending a numbered byte stream in small pieces and
/// checks every byte the echo upstream returns, until stopped; then it half-closes and checks
/// the rest. Paced, so it is still going when the reloads happen.
private final class PacedTransfer: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let outcome = Mutex<(sent: Int, received: Int, failure: String?)>((0, 0, nil))

    init(port: UInt16) throws {
        let fd = try Sockets.connect(port: port, timeoutSeconds: 30)
        let thread = Thread { [self] in
            defer {
                close(fd)
                finished.store(true, ordering: .releasing)
            }
            var sent = 0, received = 0
            func byte(_ offset: Int) -> UInt8 { UInt8(truncatingIfNeeded: offset &* 7 &+ offset >> 11) }
            func check(_ bytes: [UInt8]) -> Bool {
                for (index, value) in bytes.enumerated() where value != byte(received + index) { return false }
                received += bytes.count
                return true
            }
            do {
                while !stopped.load(ordering: .acquiring) {
                    let piece = (sent..<(sent + 16384)).map(byte)
                    try Sockets.sendAll(fd, piece)
                    sent += piece.count
                    guard check(try Sockets.receive(fd, exactly: piece.count)) else { throw SocketError(what: "bytes differ", code: 0) }
                    outcome.withLock { $0.sent = sent; $0.received = received }
                    usleep(2000)
                }
                shutdown(fd, Int32(SHUT_WR))
                let rest = try Sockets.receiveAll(fd)
                guard check(rest) else { throw SocketError(what: "bytes differ after the half-close", code: 0) }
                outcome.withLock { $0.sent = sent; $0.received = received }
            } catch {
                outcome.withLock { $0.failure = "\(error) after \(sent) bytes sent, \(received) received" }
            }
        }
        thread.start()
    }

    var progress: Int { outcome.withLock { $0.received } }

    /// Stops sending, waits for the echo of everything, and returns a failure or nil.
    func finish() -> String? {
        stopped.store(true, ordering: .releasing)
        guard becomesTrue(within: 20, { finished.load(ordering: .acquiring) }) else { return "did not finish" }
        let result = outcome.withLock { $0 }
        if let failure = result.failure { return failure }
        return result.sent == result.received && result.sent > 0 ? nil : "sent \(result.sent), echoed \(result.received)"
    }
}

/// Connections opened, used and closed back to back by two threads until stopped.
private final class ConnectionLoop: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    let completed = Atomic<Int>(0)
    let failures = Mutex<[String]>([])

    init(port: UInt16, threads: Int = 2) {
        for index in 0..<threads {
            running.add(1, ordering: .relaxed)
            let thread = Thread { [self] in
                var round = UInt8(index)
                while !stopped.load(ordering: .acquiring) {
                    round &+= 2
                    do {
                        let fd = try Sockets.connect(port: port, timeoutSeconds: 10)
                        defer { close(fd) }
                        let bytes = [UInt8](repeating: round, count: 512)
                        try Sockets.sendAll(fd, bytes)
                        guard try Sockets.receive(fd, exactly: bytes.count) == bytes else {
                            throw SocketError(what: "echo differs", code: 0)
                        }
                        completed.add(1, ordering: .relaxed)
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
                running.subtract(1, ordering: .releasing)
            }
            thread.start()
        }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        _ = becomesTrue(within: 20) { running.load(ordering: .acquiring) == 0 }
    }
}

/// SIGHUP re-reads `-C` files: the issue's scenario, run against the binary.
@Suite("Live reload (SIGHUP)", .serialized)
struct ReloadEndToEndTests {
    static func configuration(_ services: [(name: String, port: UInt16, send: Bool)], echo: UInt16, metrics: UInt16) -> String {
        var text = "services:\n"
        for service in services {
            text += """
                - name: \(service.name)
                  addr: 127.0.0.1:\(service.port)
                  handler:
                    type: tcp\(service.send ? "\n    metadata:\n      proxyProtocol: 1" : "")
                  listener:
                    type: tcp
                  forwarder:
                    nodes:
                      - name: echo
                        addr: 127.0.0.1:\(echo)

                """
        }
        return text + "metrics:\n  addr: 127.0.0.1:\(metrics)\n"
    }

    @Test func reloadUnderLoadLosesNothingAndABrokenFileChangesNothing() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let ports = try freePorts(5)
        let (kept, changed, removed, added, metrics) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-reload-\(getpid())-\(kept)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("ringway.yaml")
        let first = Self.configuration(
            [("kept", kept, false), ("changed", changed, false), ("removed", removed, false)], echo: echo.port, metrics: metrics)
        try first.write(to: file, atomically: true, encoding: .utf8)

        let ringway = try RingwayProcess(["-C", file.path, "--workers", "2"])
        #expect(ringway.waitUntilListening(services: 4), "\(ringway.lines)")

        let loop = ConnectionLoop(port: kept)
        defer { loop.stop() }
        let onKept = try PacedTransfer(port: kept)
        let onRemoved = try PacedTransfer(port: removed)
        let onChanged = try Sockets.connect(port: changed)
        #expect(becomesTrue(within: 10) { loop.completed.load(ordering: .relaxed) > 100 && onKept.progress > 0 && onRemoved.progress > 0 })

        // Reload 1: one service kept, one changed (now sends a PROXY header), one removed, one added.
        try Self.configuration(
            [("kept", kept, false), ("changed", changed, true), ("added", added, false)], echo: echo.port, metrics: metrics
        ).write(to: file, atomically: true, encoding: .utf8)
        var before = loop.completed.load(ordering: .relaxed)
        ringway.signal(SIGHUP)
        let reloaded = ringway.waitForLine(containing: ["reloaded: 1 added (added), 1 changed (changed), 1 removed (removed)"])
        #expect(reloaded != nil, "\(ringway.lines.suffix(5))")
        #expect(becomesTrue(within: 10) { loop.completed.load(ordering: .relaxed) > before + 100 })

        // The added service answers; the removed one refuses; the changed one applies to new
        // connections only.
        let onAdded = try Sockets.connect(port: added)
        try Sockets.sendAll(onAdded, "added")
        #expect(try Sockets.receive(onAdded, exactly: 5) == Array("added".utf8))
        close(onAdded)
        #expect(throws: SocketError.self) { _ = try Sockets.connect(port: removed, timeoutSeconds: 2) }
        try Sockets.sendAll(onChanged, "old")
        #expect(try Sockets.receive(onChanged, exactly: 3) == Array("old".utf8), "an open connection keeps its settings")
        let newOnChanged = try Sockets.connect(port: changed)
        try Sockets.sendAll(newOnChanged, "new")
        let header = try Sockets.receive(newOnChanged, exactly: 6)
        close(newOnChanged)
        #expect(header == Array("PROXY ".utf8), "a new connection gets the new settings: a PROXY header first")

        // Reload 2: a file YAML cannot read (a tab indents a line) changes nothing.
        try (first.replacingOccurrences(of: "\n    type: tcp\n  listener:", with: "\n\ttype: tcp\n  listener:"))
            .write(to: file, atomically: true, encoding: .utf8)
        before = loop.completed.load(ordering: .relaxed)
        ringway.signal(SIGHUP)
        let refused = ringway.waitForLine(containing: ["reload refused", "tab"])
        #expect(refused?.contains("\"level\":\"error\"") == true, "\(refused ?? "no refusal line: \(ringway.lines.suffix(5))")")
        #expect(becomesTrue(within: 10) { loop.completed.load(ordering: .relaxed) > before + 100 })
        #expect(throws: SocketError.self) { _ = try Sockets.connect(port: removed, timeoutSeconds: 2) }
        let stillAdded = try Sockets.connect(port: added)
        close(stillAdded)

        loop.stop()
        #expect(loop.failures.withLock { $0 }.isEmpty, "\(loop.failures.withLock { Array($0.prefix(3)) })")
        #expect(onKept.finish() == nil)
        #expect(onRemoved.finish() == nil, "a removed service's transfer runs to its end")
        let text = ProcessProbe.scrape(port: metrics)
        #expect(ProcessProbe.value("ringway_reloads_total{result=\"applied\"}", in: text) == 1)
        #expect(ProcessProbe.value("ringway_reloads_total{result=\"refused\"}", in: text) == 1)
        #expect(ProcessProbe.value("ringway_connections_closed_by_reason_total{service=\"kept\",reason=\"client_reset\"}", in: text) == 0)
        close(onChanged)
        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0, "every connection has ended, so the drain is immediate")
    }
}
