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
/// checks the other's user (SO_PEERCRED); the successor keeps only listening TCP sockets.
public enum ListenerHandover {
    static let more = UInt8(ascii: "L")
    static let end = UInt8(ascii: "E")
    static let draining = UInt8(ascii: "D")

    /// What a successor's attempt came to.
    public enum Outcome: Sendable {
        /// Nobody serves the path (no file, or a stale one of a process that is gone).
        case noPredecessor
        /// The predecessor handed these over.
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
        defer { connection.closeNow() }
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
                if tag == end { return .received(InheritedListeners(descriptors), predecessor: peer.pid) }
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

        /// Listens on `path`, replacing whatever file is there (a predecessor's socket, which it
        /// no longer needs once its sockets were taken, or a stale one).
        public init(path: String) throws(Errno) {
            listener = try Descriptor.unixListener(path: path)
        }

        deinit { listener.closeNow() }

        /// Answers the successors waiting, without blocking when none is, and logs a line for
        /// each. Call it from the thread that also starts drains, so sockets are never handed
        /// over while they close.
        public func serveWaiting(_ engine: Engine) {
            for (line, level) in answerWaiting(engine) { engine.note(line, kind: "handover", level: level) }
        }

        private func answerWaiting(_ engine: Engine) -> [(String, LogLevel)] {
            var lines: [(String, LogLevel)] = []
            while listener.isValid, let connection = listener.acceptWaiting() {
                defer { connection.closeNow() }
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
                    lines.append(("handed \(sockets.count) listening sockets to pid \(peer.pid); they stay open when this process stops", .info))
                } catch {
                    lines.append(("handing the listening sockets to pid \(peer.pid) failed: \(error)", .warn))
                }
            }
            return lines
        }

        /// Stops serving (a drain began). The path is left alone: a successor has replaced it.
        public func close() {
            listener.closeNow()
            listener = .none
        }
    }
}
