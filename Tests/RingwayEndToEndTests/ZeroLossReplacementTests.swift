import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Replacing a running Ringway with a new process on the same ports (README, Zero-loss
/// replacement): start the new one, wait until it listens, SIGTERM the old one, which drains and
/// exits. Under a client loop at the rate this machine sustains and with long transfers in
/// flight across every replacement, no client may be refused or reset and no transfer cut short.
/// It runs in a network namespace of its own with `net.ipv4.tcp_migrate_req=1`, the setting
/// the README asks for; with it off the same test loses connections (README: the measurements).
@Suite("Zero-loss replacement", .serialized)
struct ZeroLossReplacementTests {
    static let namespaceUnavailable = NetworkNamespace.unavailableReason
    /// The relay's port inside the test's namespace, where every port is free.
    static let port: UInt16 = 20_000
    static let workers = 2
    /// RINGWAY_TEST_TCP_MIGRATE_REQ=0 runs the replacements with the setting off, to see them
    /// fail (README: the measurements); anything else runs them as the README says to.
    static let migrate = ProcessInfo.processInfo.environment["RINGWAY_TEST_TCP_MIGRATE_REQ"] != "0"

    /// One replacement after another, `binaries[i % count]` for the i-th new process (the first
    /// process runs `binaries[0]`). Returns what the client loop did.
    static func replaceUnderLoad(
        rounds: Int, binaries: [String]
    ) throws -> (completed: Int, failures: [ConnectionChurn.Failure], seconds: Double, transferBytes: Int) {
        let namespace = try NetworkNamespace(migrateQueuedConnections: Self.migrate)
        let echo = try namespace.perform { try PooledUpstream(threads: 24, PooledUpstream.echo) }
        defer { echo.stop() }
        let arguments = [
            "--workers", "\(workers)", "--log-level", "warn", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)",
        ]
        func start(_ binary: String) throws -> RingwayProcess {
            try RingwayProcess.listening(arguments, binary: binary, namespace: namespace, port: port, sockets: workers)
        }

        var current = try start(binaries[0])
        let started = monotonicSeconds()
        let churn = ConnectionChurn(port: port, threads: 4, namespace: namespace)
        defer { churn.stop() }
        #expect(churn.waitForProgress(200), "the client loop does not run: \(churn.failureSummary)")
        var transferBytes = 0
        for round in 1...rounds {
            // Long transfers that start on the old process and must end there, whole.
            let transfers = try (0..<3).map { _ in try PacedTransfer(port: port, namespace: namespace) }
            #expect(becomesTrue(within: 10) { transfers.allSatisfy { $0.progress > 0 } })
            let next = try start(binaries[round % binaries.count])
            current.signal(SIGTERM)
            // The client loop keeps going through the drain, and so do the transfers.
            let progress = transfers.map(\.progress)
            #expect(churn.waitForProgress(100), "round \(round): \(churn.failureSummary)")
            #expect(becomesTrue(within: 10) { zip(transfers, progress).allSatisfy { $0.progress > $1 + 65536 } })
            transferBytes += transfers.map(\.progress).reduce(0, +)
            for (index, transfer) in transfers.enumerated() {
                let failure = transfer.finish()
                #expect(failure == nil, "round \(round), transfer \(index): \(failure ?? "")")
            }
            #expect(current.waitForExit(seconds: 30) == 0, "round \(round): the old process did not drain and exit")
            current = next
        }
        churn.stop()
        let seconds = monotonicSeconds() - started
        current.signal(SIGTERM)
        #expect(current.waitForExit(seconds: 30) == 0)
        return (churn.completedCount, churn.failures, seconds, transferBytes)
    }

    @Test(.disabled(if: namespaceUnavailable != nil && !Peer.required, "\(namespaceUnavailable ?? "")"))
    func twentyReplacementsUnderLoadLoseNoClient() throws {
        let result = try Self.replaceUnderLoad(rounds: 20, binaries: [RingwayBinary.path])
        print("zero-loss: 20 replacements in \(String(format: "%.1f", result.seconds)) s, \(result.completed) connections "
            + "(\(Int(Double(result.completed) / result.seconds))/s), \(result.transferBytes) bytes in 60 transfers, "
            + "failures: \(result.failures.count)")
        #expect(result.completed > 1000)
        #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(Array(result.failures.prefix(5)))")
    }

    /// An upgrade is the same replacement with another binary: upgrade, roll back, upgrade again.
    /// CI has one build, so it upgrades from a copy of it at another path; RINGWAY_UPGRADE_FROM
    /// names an older build to start from instead (README: the run from the previous release).
    @Test(.disabled(if: namespaceUnavailable != nil && !Peer.required, "\(namespaceUnavailable ?? "")"))
    func upgradeToAnotherBinaryLosesNoClient() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-upgrade-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let previous: String
        if let given = ProcessInfo.processInfo.environment["RINGWAY_UPGRADE_FROM"], !given.isEmpty {
            previous = given
        } else {
            previous = directory.appendingPathComponent("ringway-previous").path
            try FileManager.default.copyItem(atPath: RingwayBinary.path, toPath: previous)
        }
        let result = try Self.replaceUnderLoad(rounds: 3, binaries: [previous, RingwayBinary.path])
        print("zero-loss upgrade \(previous) -> \(RingwayBinary.path), back and again, 3 replacements in "
            + "\(String(format: "%.1f", result.seconds)) s, \(result.completed) connections, failures: \(result.failures.count)")
        #expect(result.completed > 200)
        #expect(result.failures.isEmpty, "\(result.failures.count) failed: \(Array(result.failures.prefix(5)))")
    }

    /// The kernel's part, made deterministic: clients it queued on a process that never
    /// accepts them (stopped) are served by the successor on the same port when that process's
    /// sockets close (it is killed) with tcp_migrate_req=1, and reset with it off, which is what
    /// the start-up warning is about and what made replacements lose clients before.
    @Test(.disabled(if: namespaceUnavailable != nil && !Peer.required, "\(namespaceUnavailable ?? "")"), arguments: [true, false])
    func clientsQueuedOnAClosingProcessMoveToItsSuccessor(migrate: Bool) throws {
        let namespace = try NetworkNamespace(migrateQueuedConnections: migrate)
        let arguments = ["--workers", "1", "-L", "whoami://127.0.0.1:\(Self.port)"]
        let old = try RingwayProcess(arguments, namespace: namespace)
        #expect(old.waitUntilListening(services: 1), "\(old.lines)")
        let oldProcess = old.process.processIdentifier
        kill(oldProcess, SIGSTOP)
        defer { kill(oldProcess, SIGCONT) }
        let successor = try RingwayProcess(arguments, namespace: namespace)
        #expect(successor.waitUntilListening(services: 1), "\(successor.lines)")
        // The port's SO_REUSEPORT group spreads clients over both processes' sockets; those
        // that reached the stopped one wait in its backlog, their requests unanswered.
        let request = "GET / HTTP/1.0\r\n\r\n"
        var clients = try namespace.perform {
            try (0..<16).map { _ in
                let fd = try Sockets.connect(port: Self.port, timeoutSeconds: 5)
                try Sockets.sendAll(fd, request)
                return fd
            }
        }
        defer { clients.forEach { close($0) } }
        usleep(300_000)
        let queued = clients.filter { !Sockets.readable($0, within: 0) }
        #expect(!queued.isEmpty, "some clients reach the stopped process")
        #expect(queued.count < clients.count, "and some the successor, which answers at once")
        kill(oldProcess, SIGKILL)
        var served = 0
        for fd in queued {
            let (bytes, code) = Sockets.receiveOnce(fd)
            let answered = bytes.starts(with: Array("HTTP/1.1 200".utf8))
            if answered { served += 1 }
            if migrate {
                #expect(answered, "moved to the successor and answered (got \(bytes.count) bytes, \(errnoName(code)))")
            } else {
                #expect(bytes.isEmpty && code == ECONNRESET, "reset with the socket it waited on (got \(bytes.count) bytes, \(errnoName(code)))")
            }
        }
        print("zero-loss: tcp_migrate_req=\(migrate ? 1 : 0): \(queued.count) of \(clients.count) clients queued on the killed process, \(served) of them answered by its successor")
        clients.forEach { close($0) }
        clients = []
        successor.signal(SIGTERM)
        #expect(successor.waitForExit() == 0)
    }

    /// At start-up Ringway reads the namespace's tcp_migrate_req and says what to do when it is off.
    @Test(.disabled(if: namespaceUnavailable != nil && !Peer.required, "\(namespaceUnavailable ?? "")"), arguments: [false, true])
    func startUpSaysWhenQueuedClientsCannotMove(migrate: Bool) throws {
        let namespace = try NetworkNamespace(migrateQueuedConnections: migrate)
        let ringway = try RingwayProcess(["--workers", "1", "-L", "whoami://127.0.0.1:\(Self.port)"], namespace: namespace)
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        let warning = ringway.lines.first(containingAll: ["tcp_migrate_req"])
        if migrate {
            #expect(warning == nil)
        } else {
            #expect(warning?.contains("\"level\":\"warn\"") == true, "\(ringway.lines)")
            #expect(warning?.contains("sysctl -w net.ipv4.tcp_migrate_req=1") == true)
            #expect(warning?.contains("contrib/sysctl.d/60-ringway.conf") == true)
        }
        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0)
    }
}
