import Glibc
import Uring

/// An unbound AF_UNIX datagram socket and the address it sends to: the one place the notifier
/// touches sockaddr_un and errno.
final class NotifySocket {
    private let descriptor: Descriptor
    private var address = sockaddr_un()
    private let addressLength: socklen_t

    init(_ target: NotifySocketAddress) throws(NotifyError) {
        let bytes = target.socketPathBytes
        // NotifySocketAddress keeps names within sun_path; checked again where the bytes are copied.
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity || (bytes.first == 0 && bytes.count <= capacity) else {
            throw .socket(operation: "address", Errno(rawValue: ENAMETOOLONG))
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        // An abstract name is exactly its bytes; a path ends at its NUL, counted as systemd does.
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        addressLength = socklen_t(pathOffset + bytes.count + (bytes.first == 0 ? 0 : 1))
        do {
            descriptor = Descriptor(rawValue: try systemCall {
                socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            })
        } catch {
            throw .socket(operation: "socket", error)
        }
    }

    deinit {
        descriptor.closeNow()
    }

    /// One datagram, without waiting: the manager's socket buffer is large, and a manager that
    /// does not read must not stall the relay's main thread.
    func send(_ text: String) throws(NotifyError) {
        var bytes = Array(text.utf8)
        let length = addressLength
        do {
            _ = try systemCall {
                withUnsafePointer(to: &address) { address in
                    address.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                        bytes.withUnsafeMutableBytes { buffer in
                            sendto(descriptor.rawValue, buffer.baseAddress, buffer.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL), address, length)
                        }
                    }
                }
            }
        } catch {
            throw .socket(operation: "sendto", error)
        }
    }
}
