import Foundation
import Glibc
import ProxyProtocol
import RingwayTestSupport
import Synchronization

/// Short connections opened, used and closed back to back by several threads until stopped:
/// each connects, runs `exchange` (by default: send 512 bytes, read their echo) and closes.
/// Every failure is kept with its kind and the time its connection started, so a test can say
/// which failures it allows (none, or only those begun before an instance was killed).
final class ConnectionChurn: @unchecked Sendable {
    struct Failure: CustomStringConvertible, Sendable {
        enum Kind: String, Sendable { case refused, reset, short, timeout, wrong, other }
        let kind: Kind
        /// When the failed connection's connect began (monotonicSeconds()).
        let started: Double
        let message: String
        var description: String { "\(kind.rawValue): \(message)" }
    }

    private let stopped = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    private let completed = Atomic<Int>(0)
    private let recorded = Mutex<(failures: [Failure], notes: [String: Int])>(([], [:]))

    /// `exchange` returns a note counted per value (e.g. which instance answered) or nil.
    /// `niceness` lowers the client threads' priority (Linux's nice value is per thread), so a
    /// loop that takes every idle cycle leaves the suites running beside it theirs.
    init(
        port: UInt16, threads: Int, namespace: NetworkNamespace? = nil, from source: IPAddress? = nil, niceness: Int32 = 0,
        exchange: @escaping @Sendable (Int32, UInt8) throws -> String? = ConnectionChurn.echo512
    ) {
        for index in 0..<threads {
            running.add(1, ordering: .relaxed)
            let thread = Thread { [self] in
                defer { running.subtract(1, ordering: .releasing) }
                if niceness != 0 { setThreadNiceness(niceness) }
                do {
                    try namespace?.enter()
                } catch {
                    record(Failure(kind: .other, started: monotonicSeconds(), message: "\(error)"), note: nil)
                    return
                }
                var round = UInt8(index)
                while !stopped.load(ordering: .acquiring) {
                    round &+= UInt8(threads)
                    let started = monotonicSeconds()
                    do {
                        let fd = try Sockets.connect(port: port, from: source, timeoutSeconds: 10)
                        defer { close(fd) }
                        let note = try exchange(fd, round)
                        completed.add(1, ordering: .relaxed)
                        if let note { record(nil, note: note) }
                    } catch {
                        record(Failure(error, started: started), note: nil)
                    }
                }
            }
            thread.start()
        }
    }

    /// Sends 512 bytes and reads them back.
    static let echo512: @Sendable (Int32, UInt8) throws -> String? = { fd, round in
        let bytes = [UInt8](repeating: round, count: 512)
        try Sockets.sendAll(fd, bytes)
        guard try Sockets.receive(fd, exactly: bytes.count) == bytes else {
            throw SocketError(what: "echo differs", code: 0)
        }
        return nil
    }

    private func record(_ failure: Failure?, note: String?) {
        recorded.withLock { state in
            if let failure { state.failures.append(failure) }
            if let note { state.notes[note, default: 0] += 1 }
        }
    }

    var completedCount: Int { completed.load(ordering: .relaxed) }
    var failures: [Failure] { recorded.withLock { $0.failures } }
    var notes: [String: Int] { recorded.withLock { $0.notes } }

    /// Failures counted by kind, for messages: "refused 3, reset 1".
    var failureSummary: String {
        let counts = Dictionary(grouping: failures, by: \.kind).map { "\($0.key.rawValue) \($0.value.count)" }.sorted()
        return counts.isEmpty ? "none" : counts.joined(separator: ", ") + " (first: \(failures.prefix(3)))"
    }

    /// Waits until `count` more connections have completed (bounded).
    @discardableResult
    func waitForProgress(_ count: Int, seconds: Double = 20) -> Bool {
        let target = completedCount + count
        return becomesTrue(within: seconds) { completedCount >= target }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        _ = becomesTrue(within: 30) { running.load(ordering: .acquiring) == 0 }
    }
}

extension ConnectionChurn.Failure {
    init(_ error: any Error, started: Double) {
        let message = "\(error)"
        let kind: Kind
        // An early EOF carries whatever errno held before it: the text says what happened.
        if message.contains("early EOF") {
            kind = .short
        } else {
            switch (error as? SocketError)?.code {
            case ECONNREFUSED: kind = .refused
            case ECONNRESET, EPIPE: kind = .reset
            case EAGAIN, ETIMEDOUT: kind = .timeout
            case 0: kind = .wrong
            default: kind = .other
            }
        }
        self.init(kind: kind, started: started, message: message)
    }
}
