import Glibc

/// Whether the kernel moves the clients queued on a closing listening socket to another socket
/// of the same SO_REUSEPORT group (`net.ipv4.tcp_migrate_req`, Linux 5.14 and later, one value
/// per network namespace). A successor that binds the same ports beside this process (no
/// `--handover-socket`) needs it: without it, a client whose handshake the kernel finished on
/// this process's socket just before the drain closed it is reset.
enum QueuedConnectionMigration {
    static let sysctlPath = "/proc/sys/net/ipv4/tcp_migrate_req"

    /// The start-up warning when the setting is off or missing, nil when it is on. Anything but
    /// a readable "1" counts as off.
    static func warning(readingFrom path: String = sysctlPath) -> String? {
        let fix = "to replace or upgrade Ringway without resetting clients, give both processes --handover-socket PATH "
            + "(the new one takes over the listening sockets), or set it to 1 in this network namespace: "
            + "sysctl -w net.ipv4.tcp_migrate_req=1, kept across boots by contrib/sysctl.d/60-ringway.conf"
        switch firstByte(of: path) {
        case UInt8(ascii: "1"):
            return nil
        case UInt8(ascii: "0"):
            return "net.ipv4.tcp_migrate_req is 0: clients queued on a listening socket when Ringway stops are reset "
                + "instead of moving to another process listening on the same port; " + fix
        default:
            return "cannot read \(path) (Linux 5.14 or later has it): clients queued on a listening socket when "
                + "Ringway stops may be reset instead of moving to another process listening on the same port; " + fix
        }
    }

    private static func firstByte(of path: String) -> UInt8? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var byte: UInt8 = 0
        return read(descriptor, &byte, 1) == 1 ? byte : nil
    }
}
