import Glibc
import ProxyProtocol
import Synchronization

/// Plain POSIX socket helpers for tests: loopback only, errors as test failures.
public struct SocketError: Error, CustomStringConvertible {
    public let what: String
    public let code: Int32
    public init(what: String, code: Int32) {
        self.what = what
        self.code = code
    }
    public var description: String { "\(what): \(String(cString: strerror(code)))" }
}

public enum Sockets {
    /// A listening socket on 127.0.0.1 (or ::1) with an ephemeral port.
    public static func listen(ipv6: Bool = false, port: UInt16 = 0, backlog: Int32 = 1024) throws -> (socket: Int32, port: UInt16) {
        let family = ipv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(what: "socket", code: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        let endpoint = IPEndpoint(address: ipv6 ? .v6(.loopback) : .v4(.loopback), port: port)
        try withSockaddr(endpoint) { address, length in
            guard bind(fd, address, length) == 0 else { throw SocketError(what: "bind", code: errno) }
        }
        guard Glibc.listen(fd, backlog) == 0 else { throw SocketError(what: "listen", code: errno) }
        return (fd, try localPort(fd))
    }

    public static func localPort(_ fd: Int32) throws -> UInt16 {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { throw SocketError(what: "getsockname", code: errno) }
        return withUnsafeBytes(of: storage) { UInt16(bigEndian: $0.load(fromByteOffset: 2, as: UInt16.self)) }
    }

    /// A blocking connection to `host:port`, optionally from a given local address.
    public static func connect(
        port: UInt16, host: IPAddress = .v4(.loopback), from source: IPAddress? = nil, timeoutSeconds: Int = 10
    ) throws -> Int32 {
        let endpoint = IPEndpoint(address: host, port: port)
        let fd = socket(host.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError(what: "socket", code: errno) }
        setTimeouts(fd, seconds: timeoutSeconds)
        if let source {
            // The port is then chosen at connect() for the whole 4-tuple (and may reuse one in
            // TIME_WAIT on loopback), not at bind(), which would run out at high connection rates.
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_IP), 24 /* IP_BIND_ADDRESS_NO_PORT */, &one, socklen_t(4))
            try withSockaddr(IPEndpoint(address: source, port: 0)) { address, length in
                guard bind(fd, address, length) == 0 else {
                    close(fd)
                    throw SocketError(what: "bind \(source)", code: errno)
                }
            }
        }
        try withSockaddr(endpoint) { address, length in
            var result = Glibc.connect(fd, address, length)
            // An interrupted connect carries on in the background; wait for it.
            if result < 0 && errno == EINTR {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&poller, 1, Int32(timeoutSeconds * 1000))
                var code: Int32 = 0
                var length = socklen_t(4)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                result = code == 0 ? 0 : -1
                errno = code
            }
            guard result == 0 else {
                let code = errno
                close(fd)
                throw SocketError(what: "connect \(endpoint)", code: code)
            }
        }
        return fd
    }

    public static func setTimeouts(_ fd: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    public static func withSockaddr<R>(_ endpoint: IPEndpoint, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) throws -> R {
        var storage = sockaddr_storage()
        let length: socklen_t
        switch endpoint.address {
        case .v4(let a):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = endpoint.port.bigEndian
            address.sin_addr.s_addr = a.value.bigEndian
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        case .v6(let a):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) {
                $0.storeBytes(of: a.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: a.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        return try withUnsafePointer(to: &storage) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, length) }
        }
    }

    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { throw SocketError(what: "send", code: errno) }
            offset += sent
        }
    }

    public static func sendAll(_ fd: Int32, _ text: String) throws { try sendAll(fd, Array(text.utf8)) }

    /// Reads until EOF (or `limit` bytes); throws on error or timeout.
    public static func receiveAll(_ fd: Int32, limit: Int = 64 << 20) throws -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw SocketError(what: "recv", code: errno) }
            result += chunk[0..<count]
        }
        return result
    }

    /// Reads exactly `count` bytes or throws.
    public static func receive(_ fd: Int32, exactly count: Int) throws -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let got = result.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + offset, count - offset, 0) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw SocketError(what: got == 0 ? "recv: early EOF after \(offset)" : "recv", code: errno) }
            offset += got
        }
        return result
    }

    /// Result of one recv: bytes, 0 for EOF, or the errno.
    public static func receiveOnce(_ fd: Int32, max: Int = 65536) -> (bytes: [UInt8], errno: Int32) {
        var chunk = [UInt8](repeating: 0, count: max)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return ([], errno) }
            return (Array(chunk[0..<count]), 0)
        }
    }

    /// An HTTP head, byte by byte up to and including its blank line (fewer bytes at EOF), so
    /// nothing after it is taken from the socket.
    public static func receiveHead(_ fd: Int32) -> [UInt8] {
        var head: [UInt8] = []
        let end = Array("\r\n\r\n".utf8)
        while !(head.count >= 4 && Array(head.suffix(4)) == end) {
            let (bytes, code) = receiveOnce(fd, max: 1)
            if bytes.isEmpty || code != 0 { break }
            head += bytes
        }
        return head
    }

    /// Closes with RST instead of FIN.
    public static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    public static func accept(_ listener: Int32, timeoutSeconds: Int = 10) throws -> Int32 {
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        var ready = poll(&poller, 1, Int32(timeoutSeconds * 1000))
        while ready < 0 && errno == EINTR { ready = poll(&poller, 1, Int32(timeoutSeconds * 1000)) }
        guard ready == 1 else { throw SocketError(what: "accept timed out", code: ETIMEDOUT) }
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw SocketError(what: "accept", code: errno) }
        setTimeouts(fd, seconds: timeoutSeconds)
        return fd
    }

    /// Whether `fd` becomes readable within `milliseconds`.
    public static func readable(_ fd: Int32, within milliseconds: Int32) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, milliseconds) == 1
    }
}

/// Waits until the relay closes `fd`: true for EOF or reset, false if it stays open.
public func closedByRelay(_ fd: Int32, withinMilliseconds milliseconds: Int32 = 3000) -> Bool {
    guard Sockets.readable(fd, within: milliseconds) else { return false }
    let (bytes, code) = Sockets.receiveOnce(fd)
    return bytes.isEmpty || code != 0
}

/// Opens `count` non-blocking clients to `port` and writes to all of them until `done` says
/// enough or `seconds` pass. Returns the clients (the caller closes them) and whether `done` held.
public func pushClients(
    count: Int, port: UInt16, seconds: Double, until done: () -> Bool
) throws -> (clients: [Int32], done: Bool) {
    var clients: [Int32] = []
    for _ in 0..<count {
        let client = try Sockets.connect(port: port)
        setNonBlocking(client)
        clients.append(client)
    }
    let chunk = [UInt8](repeating: 0x42, count: 65536)
    let held = becomesTrue(within: seconds, interval: 20_000) {
        for client in clients {
            _ = chunk.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        return done()
    }
    return (clients, held)
}

/// Ports handed out to tests, below the ephemeral range (32768-60999 here), so that a client
/// socket of a concurrent test can never take one between the check and the bind, and never
/// handed out twice in one test run.
private let handedOutPorts = Mutex<Set<UInt16>>([])

/// A free loopback port below the ephemeral range (checked by binding it, IPv4 and IPv6).
public func freePort() throws -> UInt16 {
    try freePorts(1)[0]
}

/// `count` consecutive free ports below the ephemeral range (for port-range services).
public func freePorts(_ count: Int) throws -> [UInt16] {
    var random = SplitMix64(state: UInt64(UInt32(bitPattern: getpid())) << 32 ^ UInt64(time(nil)))
    for _ in 0..<1000 {
        let base = UInt16(random.next(in: 20000...(32000 - count)))
        let ports = (0..<count).map { base + UInt16($0) }
        let taken = handedOutPorts.withLock { used -> Bool in
            guard ports.allSatisfy({ !used.contains($0) }), ports.allSatisfy(isBindable) else { return true }
            used.formUnion(ports)
            return false
        }
        if !taken { return ports }
    }
    throw SocketError(what: "no \(count) free consecutive ports below 32000", code: EADDRINUSE)
}

private func isBindable(_ port: UInt16) -> Bool {
    [IPAddress.v4(.any), IPAddress.v6(.any)].allSatisfy { host in
        let fd = socket(host.isIPv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
        return (try? Sockets.withSockaddr(IPEndpoint(address: host, port: port)) { bind(fd, $0, $1) == 0 }) ?? false
    }
}

/// Raises the soft descriptor limit to the hard one (once per process) and returns it: tests
/// that open thousands of sockets must not depend on the shell's default of 1024.
@discardableResult
public func raiseDescriptorLimit() -> Int {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }
    return Int(clamping: limit.rlim_cur)
}
