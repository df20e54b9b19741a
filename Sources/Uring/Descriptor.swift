import CLiburing
import Glibc

/// A file descriptor the process owns: a socket, a pipe end, an eventfd. A plain value (no
/// ownership tracking): whoever holds it closes it, through the ring (`prepareClose`) on the
/// hot path or with `closeNow()` where nothing is in flight.
public struct Descriptor: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    @inlinable
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// No descriptor (the field is empty).
    public static let none = Descriptor(rawValue: -1)

    @inlinable
    public var isValid: Bool { rawValue >= 0 }

    public var description: String { "fd \(rawValue)" }

    /// close(2) now. For descriptors no request is in flight on.
    public func closeNow() {
        if isValid { _ = Glibc.close(rawValue) }
    }
}

/// Which way `shutdown(2)` closes a socket.
public enum ShutdownDirection: Sendable {
    case write
    case both

    @usableFromInline
    var rawValue: Int32 { self == .write ? Int32(SHUT_WR) : Int32(SHUT_RDWR) }
}

/// The socket calls that do not go through the ring: creating and configuring sockets and pipes,
/// reading their addresses. Each reports failure as a typed `Errno` (the one errno boundary).
extension Descriptor {
    /// A TCP socket of `family` (AF_INET or AF_INET6), close-on-exec, blocking.
    public static func tcpSocket(family: Int32) throws(Errno) -> Descriptor {
        Descriptor(rawValue: try systemCall { socket(family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0) })
    }

    /// An integer socket option (TCP_NODELAY, SO_REUSEPORT, IPV6_V6ONLY, ...).
    public func setOption(level: Int32, name: Int32, _ value: Int32) throws(Errno) {
        var value = value
        _ = try systemCall { setsockopt(rawValue, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) }
    }

    /// TCP_NODELAY: small writes (a PROXY header, an HTTP answer) leave at once.
    public func disableNagle() throws(Errno) {
        try setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, 1)
    }

    /// SO_LINGER {1, 0}: the next close sends RST instead of FIN.
    public func resetOnClose() {
        var option = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(rawValue, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
    }

    /// O_NONBLOCK on this descriptor's open file description.
    public func setNonBlocking() throws(Errno) {
        let flags = try systemCall { fcntl(rawValue, F_GETFL) }
        _ = try systemCall { fcntl(rawValue, F_SETFL, flags | O_NONBLOCK) }
    }

    /// The address the socket is bound to (for an accepted connection: the one the client dialled).
    public func localAddress() throws(Errno) -> SocketAddress {
        try SocketAddress.filled { getsockname(rawValue, $0, $1) }
    }

    /// The address of the connected peer.
    public func peerAddress() throws(Errno) -> SocketAddress {
        try SocketAddress.filled { getpeername(rawValue, $0, $1) }
    }

    /// The error pending on a socket (SO_ERROR), if any; reading it clears it.
    public func pendingError() -> Errno? {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(rawValue, SOL_SOCKET, SO_ERROR, &code, &length) == 0, code != 0 else { return nil }
        return Errno(rawValue: code)
    }

    /// shutdown(2) now (not on the ring): wakes anything blocked on the socket in the kernel.
    public func shutdownNow(_ direction: ShutdownDirection) {
        _ = Glibc.shutdown(rawValue, direction.rawValue)
    }

    public func bind(_ address: SocketAddress) throws(Errno) {
        var copy = address
        let result = withUnsafePointer(to: &copy.storage) { storage in
            Glibc.bind(rawValue, UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr.self), copy.length)
        }
        if result != 0 { throw Errno.current }
    }

    public func listen(backlog: Int32) throws(Errno) {
        _ = try systemCall { Glibc.listen(rawValue, backlog) }
    }

    /// accept4 on a non-blocking listener: a connection, or nil when none is waiting.
    public func acceptWaiting() -> Descriptor? {
        let accepted = accept4(rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        return accepted >= 0 ? Descriptor(rawValue: accepted) : nil
    }

    /// A pipe, both ends non-blocking and close-on-exec, the write end asked to hold `capacity`
    /// bytes (the kernel may grant less).
    public static func pipe(capacity: Int32) throws(Errno) -> (read: Descriptor, write: Descriptor) {
        // A tuple, not an array: one pipe per direction of every splice connection, no malloc.
        var ends: (Int32, Int32) = (-1, -1)
        _ = try withUnsafeMutableBytes(of: &ends) { raw throws(Errno) in
            try systemCall { pipe2(raw.baseAddress!.assumingMemoryBound(to: Int32.self), O_CLOEXEC | O_NONBLOCK) }
        }
        _ = fcntl(ends.1, ringway_F_SETPIPE_SZ, capacity)
        return (Descriptor(rawValue: ends.0), Descriptor(rawValue: ends.1))
    }

    /// write(2) once; returns how much was written.
    public func write(_ bytes: UnsafeRawPointer, count: Int) throws(Errno) -> Int {
        try systemCall { Glibc.write(rawValue, bytes, count) }
    }

    /// send(2) with MSG_DONTWAIT | MSG_NOSIGNAL: never blocks, whatever the descriptor's flags.
    public func sendWithoutWaiting(_ bytes: UnsafeRawPointer, count: Int) throws(Errno) -> Int {
        try systemCall { send(rawValue, bytes, count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
    }

    /// What kind of file this is, for choosing how to write to it without blocking.
    public enum Kind: Sendable {
        case socket
        case pipe
        case characterDevice
        case other
    }

    public var kind: Kind {
        var status = stat()
        guard fstat(rawValue, &status) == 0 else { return .other }
        switch status.st_mode & S_IFMT {
        case S_IFSOCK: return .socket
        case S_IFIFO: return .pipe
        case S_IFCHR: return .characterDevice
        default: return .other
        }
    }

    /// The same file opened again (through /proc/self/fd) with O_NONBLOCK: a description of
    /// our own, so the flag does not reach whoever else shares this one. Pipes and terminals.
    public func reopenedNonBlocking() throws(Errno) -> Descriptor {
        Descriptor(rawValue: try systemCall { open("/proc/self/fd/\(rawValue)", O_WRONLY | O_NONBLOCK | O_CLOEXEC) })
    }

    /// /dev/zero, read-only. ENODEV when the path is not the character device (a chroot or an
    /// image can have a plain file there, which reads as empty and would take no buffer).
    public static func zeroDevice() throws(Errno) -> Descriptor {
        let descriptor = Descriptor(rawValue: try systemCall { open("/dev/zero", O_RDONLY | O_CLOEXEC) })
        var status = stat()
        guard fstat(descriptor.rawValue, &status) == 0, status.st_mode & S_IFMT == S_IFCHR else {
            descriptor.closeNow()
            throw Errno(rawValue: ENODEV)
        }
        return descriptor
    }
}
