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

/// Opens one SO_REUSEPORT listening socket per worker for `listen`, or takes one a predecessor
/// handed over (`inherited`). All of them share the port, and the kernel spreads new connections
/// across them by hash. Port 0 picks a free port once and binds the other workers' sockets to the
/// same one. Returns the sockets and the bound port.
func openListeningSockets(
    service: String, listen: ListenAddress, count: Int, backlog: Int32 = 4096, inherited: InheritedListeners? = nil
) throws(ListenError) -> (sockets: [Descriptor], port: UInt16) {
    var sockets: [Descriptor] = []
    var port = listen.port
    do {
        for _ in 0..<count {
            if let socket = inherited?.take(listen) {
                sockets.append(socket)
                continue
            }
            sockets.append(try openListeningSocket(service: service, listen: ListenAddress(host: listen.host, port: port), backlog: backlog))
            if port == 0, let bound = (try? sockets[0].localAddress()).flatMap(IPEndpoint.init) { port = bound.port }
        }
    } catch {
        sockets.forEach { $0.closeNow() }
        throw error
    }
    return (sockets, port)
}

private func openListeningSocket(service: String, listen: ListenAddress, backlog: Int32) throws(ListenError) -> Descriptor {
    func failure(_ step: String, _ error: Errno) -> ListenError {
        ListenError(service: service, address: listen.description, step: step, errno: error)
    }
    // No host: one dual-stack socket on [::] serves IPv4 and IPv6; fall back to 0.0.0.0 where
    // the kernel has IPv6 disabled.
    var endpoint = IPEndpoint(address: listen.host ?? .v6(.any), port: listen.port)
    let socket: Descriptor
    do {
        socket = try Descriptor.tcpSocket(family: endpoint.family)
    } catch where listen.host == nil && error.rawValue == EAFNOSUPPORT {
        endpoint = IPEndpoint(address: .v4(.any), port: listen.port)
        do {
            socket = try Descriptor.tcpSocket(family: AF_INET)
        } catch {
            throw failure("socket()", error)
        }
    } catch {
        throw failure("socket()", error)
    }
    var step = "setsockopt(SO_REUSEPORT)"
    do {
        try? socket.setOption(level: SOL_SOCKET, name: SO_REUSEADDR, 1)
        try socket.setOption(level: SOL_SOCKET, name: SO_REUSEPORT, 1)
        // Accepted sockets inherit TCP_NODELAY from the listener: one setsockopt per service
        // instead of one per connection.
        step = "setsockopt(TCP_NODELAY)"
        try socket.setOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, 1)
        if endpoint.family == AF_INET6 {
            // Dual-stack only for the wildcard; an explicit IPv6 address listens on IPv6 alone.
            try? socket.setOption(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY, listen.host == nil ? 0 : 1)
        }
        step = "bind()"
        try socket.bind(endpoint.socketAddress)
        step = "listen()"
        try socket.listen(backlog: backlog)
    } catch {
        socket.closeNow()
        throw failure(step, error)
    }
    return socket
}
