import Glibc
import Synchronization
import Uring

/// The listening sockets a successor confirmed it kept (`ListenerHandover`): stopping must not
/// sweep their backlog (the successor serves it) nor make them non-blocking (the flag is the
/// shared file's), only close this process's descriptors. Every other socket, including ones
/// handed over but not confirmed, is this process's alone and is swept before it closes.
/// Known by descriptor and inode, so a number reused by a later socket is not taken for one.
final class HandedOverSockets: Sendable {
    private struct Identity: Hashable {
        let descriptor: Int32
        let inode: UInt64
    }

    private let identities = Mutex<Set<Identity>>([])

    func mark(_ socket: Descriptor) {
        guard let identity = Self.identity(of: socket) else { return }
        identities.withLock { _ = $0.insert(identity) }
    }

    /// Read when a worker stops accepting on a socket (`Worker.noteHandedOver`), never per turn.
    func contains(_ socket: Descriptor) -> Bool {
        guard let identity = Self.identity(of: socket) else { return false }
        return identities.withLock { $0.contains(identity) }
    }

    var count: Int { identities.withLock { $0.count } }

    private static func identity(of socket: Descriptor) -> Identity? {
        var status = stat()
        guard socket.isValid, fstat(socket.rawValue, &status) == 0 else { return nil }
        return Identity(descriptor: socket.rawValue, inode: UInt64(status.st_ino))
    }
}
