import Foundation
import Glibc

/// systemd's side of sd_notify: an AF_UNIX datagram socket bound at a path in a temporary
/// directory or at an abstract name, whose `$NOTIFY_SOCKET` spelling is `name`.
final class NotifyReceiver: @unchecked Sendable {
    let fd: Int32
    /// The value for `NOTIFY_SOCKET`: a path, or `@name` for an abstract socket.
    let name: String
    private let directory: URL?
    /// Every datagram received so far, in order.
    private(set) var received: [Notification] = []

    /// One datagram: its assignments, and the CLOCK_MONOTONIC time (µs) it was read at.
    struct Notification: CustomStringConvertible {
        let text: String
        let readAt: UInt64

        var fields: [String: String] {
            var fields: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                fields[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            return fields
        }

        /// Carries something besides STATUS (READY, RELOADING, STOPPING).
        var isStateChange: Bool { fields.keys.contains { $0 != "STATUS" } }
        var description: String { text.replacingOccurrences(of: "\n", with: "\\n") }
    }

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
        let unique = "ringway-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var bytes: [UInt8]
        if abstract {
            name = "@" + unique
            directory = nil
            bytes = [0] + Array(unique.utf8)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(unique)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            self.directory = directory
            name = directory.appendingPathComponent("notify").path
            bytes = Array(name.utf8) + [0]
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (index, byte) in bytes.enumerated() { path[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EINVAL)
        }
    }

    deinit {
        close(fd)
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// Reads datagrams until one satisfies `predicate` (returned), or `seconds` pass (nil).
    func next(within seconds: Double = 10, where predicate: (Notification) -> Bool) -> Notification? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard count > 0 else { continue }
            let notification = Notification(text: String(decoding: buffer[..<count], as: UTF8.self), readAt: monotonicMicroseconds())
            received.append(notification)
            if predicate(notification) { return notification }
        }
        return nil
    }

    /// The next datagram that is more than a STATUS update.
    func nextStateChange(within seconds: Double = 10) -> Notification? {
        next(within: seconds) { $0.isStateChange }
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock of MONOTONIC_USEC.
func monotonicMicroseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1000
}
