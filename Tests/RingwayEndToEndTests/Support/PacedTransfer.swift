import Foundation
import Glibc
import RingwayTestSupport
import Synchronization

/// A connection through the relay that keeps sending a numbered byte stream in 16 KiB pieces
/// and checks every byte the echo upstream returns, until stopped; then it half-closes and
/// checks the rest. Paced, so it is still going when a reload or a replacement happens.
final class PacedTransfer: @unchecked Sendable {
    private let stopped = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let outcome = Mutex<(sent: Int, received: Int, failure: String?)>((0, 0, nil))

    /// Connects from the calling thread, or from a thread inside `namespace`.
    init(port: UInt16, namespace: NetworkNamespace? = nil) throws {
        let fd = try namespace.map { try $0.perform { try Sockets.connect(port: port, timeoutSeconds: 30) } }
            ?? Sockets.connect(port: port, timeoutSeconds: 30)
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
