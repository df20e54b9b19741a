import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// Why a service's listening socket could not be opened.
public struct ListenError: Error, CustomStringConvertible {
    public let service: String
    public let address: String
    public let step: String
    public let errno: Errno

    public var description: String {
        var hint = ""
        if errno.rawValue == EADDRINUSE { hint = ": another process already listens there" }
        if errno.rawValue == EACCES { hint = ": ports below 1024 need root or CAP_NET_BIND_SERVICE" }
        if errno.rawValue == EADDRNOTAVAIL { hint = ": no local interface has that address" }
        return "\(service): cannot listen on \(address): \(step) failed with \(errno)\(hint)"
    }
}

/// Opens one SO_REUSEPORT listening socket per worker for `listen`. All of them share the port,
/// and the kernel spreads new connections across them by hash. Port 0 picks a free port once and
/// binds the other workers' sockets to the same one. Returns the sockets and the bound port.
func openListeningSockets(
    service: String, listen: ListenAddress, count: Int, backlog: Int32 = 4096
) throws(ListenError) -> (sockets: [Int32], port: UInt16) {
    var sockets: [Int32] = []
    var port = listen.port
    do {
        for _ in 0..<count {
            sockets.append(try openListeningSocket(service: service, listen: ListenAddress(host: listen.host, port: port), backlog: backlog))
            if port == 0, let bound = localEndpoint(of: sockets[0]) { port = bound.port }
        }
    } catch {
        sockets.forEach { _ = close($0) }
        throw error
    }
    return (sockets, port)
}

private func openListeningSocket(service: String, listen: ListenAddress, backlog: Int32) throws(ListenError) -> Int32 {
    // No host: one dual-stack socket on [::] serves IPv4 and IPv6; fall back to 0.0.0.0 where
    // the kernel has IPv6 disabled.
    var endpoint = IPEndpoint(address: listen.host ?? .v6(.any), port: listen.port)
    var fd = socket(endpoint.family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    if fd < 0, listen.host == nil, errno == EAFNOSUPPORT {
        endpoint = IPEndpoint(address: .v4(.any), port: listen.port)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    }
    func fail(_ step: String) -> ListenError {
        let error = ListenError(service: service, address: listen.description, step: step, errno: .current)
        if fd >= 0 { _ = close(fd) }
        return error
    }
    guard fd >= 0 else { throw fail("socket()") }
    setSocketOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
    guard setSocketOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) else { throw fail("setsockopt(SO_REUSEPORT)") }
    if endpoint.family == AF_INET6 {
        // Dual-stack only for the wildcard; an explicit IPv6 address listens on IPv6 alone.
        setSocketOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, listen.host == nil ? 0 : 1)
    }
    var storage = sockaddr_storage()
    let length = endpoint.write(to: &storage)
    let bound = withUnsafePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw fail("bind()") }
    guard Glibc.listen(fd, backlog) == 0 else { throw fail("listen()") }
    return fd
}
