import Glibc
import RingwayConfig
import Uring

/// Zero-loss replacement by passing the listening sockets themselves (README, Zero-loss
/// replacement): a running Ringway started with `--handover-socket PATH` serves PATH, a Unix
/// socket only its user can reach; a successor started with the same PATH connects first and
/// receives every listening socket over it (SCM_RIGHTS). Both then accept from the same sockets
/// until the predecessor drains, which closes only its own descriptors: no listening socket
/// ever closes, so no client queued on one is reset, whatever `net.ipv4.tcp_migrate_req` says.
///
/// The exchange: the successor connects; the predecessor checks that the peer runs as its own
/// user and sends messages of one tag byte each, `L` with up to 250 descriptors attached while
/// more follow, then `E` (end, with the last ones), or `D` (draining: none to give). Each side
/// checks the other's user (SO_PEERCRED); the successor keeps only listening TCP sockets. Once
/// its engine runs, the successor answers which sockets it kept (`KeptSocketsMessage`) and
/// hangs up. Only then does the predecessor treat those
/// sockets as shared; a successor that fails or hangs up first leaves them all its own.
public enum ListenerHandover {
    static let more = UInt8(ascii: "L")
    static let end = UInt8(ascii: "E")
    static let draining = UInt8(ascii: "D")
    /// How long a predecessor waits for a successor's confirmation before keeping its sockets.
    static let confirmationSeconds: UInt64 = 120

    /// What a successor's attempt came to.
    public enum Outcome: Sendable {
        /// Nobody serves the path (no file, or a stale one of a process that is gone).
        case noPredecessor
        /// The predecessor handed these over; `InheritedListeners.confirmKept()` tells it which
        /// were kept once the engine runs.
        case received(InheritedListeners, predecessor: Int32)
        /// A process answered but gave no sockets, or the exchange failed: start as usual.
        case failed(String)
    }

    /// Connects to `path` and takes the listening sockets of the process serving it.
    public static func takeOver(from path: String, timeoutSeconds: Int = 10) -> Outcome {
        let connection: Descriptor
        do {
            connection = try Descriptor.unixConnection(path: path, timeoutSeconds: timeoutSeconds)
        } catch where error.rawValue == ENOENT || error.rawValue == ECONNREFUSED {
            return .noPredecessor
        } catch {
            return .failed("cannot connect to \(path): \(error)")
        }
        var keepConnection = false
        defer { if !keepConnection { connection.closeNow() } }
        guard let peer = try? connection.peerCredentials(), peer.uid == geteuid() else {
            return .failed("\(path) is served by another user's process; it was not asked for sockets")
        }
        var descriptors: [Descriptor] = []
        do {
            while true {
                guard let (tag, received) = try connection.receiveDescriptors() else {
                    descriptors.forEach { $0.closeNow() }
                    return .failed("pid \(peer.pid) closed the handover before its end")
                }
                descriptors += received
                if tag == more { continue }
                if tag == end {
                    keepConnection = true
                    return .received(InheritedListeners(descriptors, confirmingTo: connection), predecessor: peer.pid)
                }
                descriptors.forEach { $0.closeNow() }
                return tag == draining
                    ? .failed("pid \(peer.pid) is draining and keeps its sockets")
                    : .failed("pid \(peer.pid) sent an unknown handover message")
            }
        } catch {
            descriptors.forEach { $0.closeNow() }
            return .failed("receiving sockets from pid \(peer.pid): \(error)")
        }
    }

    /// The predecessor's side: serves `path` for the successors that connect to it.
    public final class Server {
        private var listener: Descriptor
        /// Successors given sockets that have not yet confirmed which they kept.
        private var pending: [PendingConfirmation] = []

        private struct PendingConfirmation {
            let connection: Descriptor
            let peer: Int32
            let sockets: [Descriptor]
            let deadline: UInt64
            var bytes: [UInt8] = []
        }

        /// Listens on `path`, replacing whatever file is there (a predecessor's socket, which it
        /// no longer needs once its sockets were taken, or a stale one).
        public init(path: String) throws(Errno) {
            listener = try Descriptor.unixListener(path: path)
        }

        deinit {
            listener.closeNow()
            pending.forEach { $0.connection.closeNow() }
        }

        /// Answers the successors waiting and reads the confirmations that arrived, without
        /// blocking, and logs a line for each. Call it from the thread that also starts drains,
        /// so sockets are never handed over while they close.
        public func serveWaiting(_ engine: Engine) {
            var lines = answerWaiting(engine)
            lines += readConfirmations(engine, now: monotonicMilliseconds())
            for (line, level) in lines { engine.note(line, kind: "handover", level: level) }
        }

        /// Before a drain: a successor that took the sockets may still be starting. Waits up to
        /// `seconds` for its confirmation, so the drain knows which sockets it must leave alone.
        public func awaitConfirmations(_ engine: Engine, seconds: UInt64 = 10) {
            let giveUp = monotonicMilliseconds() + seconds * 1000
            while !pending.isEmpty && monotonicMilliseconds() < giveUp {
                serveWaiting(engine)
                if !pending.isEmpty { usleep(10_000) }
            }
        }

        private func answerWaiting(_ engine: Engine) -> [(String, LogLevel)] {
            var lines: [(String, LogLevel)] = []
            // A few per call: a peer connecting in a loop must not keep this thread from signals.
            var answered = 0
            while answered < 8, listener.isValid, let connection = listener.acceptWaiting() {
                answered += 1
                var keep = false
                defer { if !keep { connection.closeNow() } }
                connection.setTimeouts(seconds: 5)
                guard let peer = try? connection.peerCredentials() else { continue }
                guard peer.uid == geteuid() else {
                    lines.append(("refused to hand sockets to pid \(peer.pid), which runs as user \(peer.uid)", .warn))
                    continue
                }
                guard let sockets = engine.listeningSocketsForHandover() else {
                    try? connection.sendDescriptors([], tag: ListenerHandover.draining)
                    lines.append(("pid \(peer.pid) asked for the listening sockets while this process drains; none given", .warn))
                    continue
                }
                do {
                    var rest = sockets[...]
                    repeat {
                        let chunk = Array(rest.prefix(Descriptor.descriptorsPerMessage))
                        rest = rest.dropFirst(chunk.count)
                        try connection.sendDescriptors(chunk, tag: rest.isEmpty ? ListenerHandover.end : ListenerHandover.more)
                    } while !rest.isEmpty
                    try connection.setNonBlocking()
                    keep = true
                    pending.append(PendingConfirmation(
                        connection: connection, peer: peer.pid, sockets: sockets,
                        deadline: monotonicMilliseconds() + ListenerHandover.confirmationSeconds * 1000))
                    lines.append(("handed \(sockets.count) listening sockets to pid \(peer.pid); waiting for it to run and "
                        + "say which it keeps", .info))
                } catch {
                    lines.append(("handing the listening sockets to pid \(peer.pid) failed: \(error)", .warn))
                }
            }
            return lines
        }

        /// Confirmations are small: read what arrived; a complete one marks the sockets kept,
        /// a hang-up, an error, a malformed one or the deadline leaves them all this process's.
        private func readConfirmations(_ engine: Engine, now: UInt64) -> [(String, LogLevel)] {
            var lines: [(String, LogLevel)] = []
            var index = 0
            while index < pending.count {
                var entry = pending[index]
                let outcome = Self.read(&entry, now: now)
                pending[index] = entry
                guard let outcome else {
                    index += 1
                    continue
                }
                pending.remove(at: index).connection.closeNow()
                switch outcome {
                case .kept(let positions):
                    let marked = engine.confirmHandedOver(positions.map { entry.sockets[$0] })
                    lines.append(("pid \(entry.peer) runs and keeps \(marked) of the \(entry.sockets.count) listening sockets "
                        + "handed to it; they stay open when this process stops", .info))
                case .invalid(let reason):
                    lines.append(("pid \(entry.peer) \(reason); the \(entry.sockets.count) listening sockets handed to it "
                        + "stay this process's own, and its drain serves what is queued on them", .warn))
                }
            }
            return lines
        }

        /// nil while the successor has not hung up (and its time is not up); then what it sent.
        private static func read(_ entry: inout PendingConfirmation, now: UInt64) -> KeptSocketsMessage.Decoded? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let count = recv(entry.connection.rawValue, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if count > 0 {
                    entry.bytes += buffer[0..<count]
                    if entry.bytes.count > KeptSocketsMessage.maximumLength { return .invalid("sent an overlong confirmation") }
                    continue
                }
                if count == 0 { return KeptSocketsMessage.decode(entry.bytes, handed: entry.sockets.count) }
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    return now >= entry.deadline ? .invalid("did not confirm within \(ListenerHandover.confirmationSeconds) s") : nil
                }
                return .invalid("failed before confirming (\(Errno.current))")
            }
        }

        /// Stops serving (a drain began). The path is left alone: a successor has replaced it.
        /// A successor that took sockets and has still not confirmed may be running with them:
        /// they are left to it as if it kept them (not swept, their flags untouched).
        public func close(_ engine: Engine) {
            listener.closeNow()
            listener = .none
            for entry in pending {
                entry.connection.closeNow()
                let marked = engine.confirmHandedOver(entry.sockets)
                engine.note(
                    "pid \(entry.peer) has not confirmed which listening sockets it keeps; the \(marked) handed to it "
                        + "are left to it as if it kept them", kind: "handover", level: .warn)
            }
            pending = []
        }
    }
}
