import Glibc
import ProxyProtocol
import Relay
import RingwayConfig
import RingwayTestSupport
import Testing

@Suite("PROXY protocol: concurrency")
struct ProxyConcurrencyTests {
    /// Client `n` claims to be 10.x.y.z:port through its v1 header; the relay forwards it as a
    /// v2 header; the upstream answers with the source it parsed. Every answer must match.
    @Test func thousandConcurrentConnectionsEachKeepTheirOwnClient() throws {
        let count = 1000
        let (listener, upstreamPort) = try Sockets.listen(backlog: 4096)
        defer { close(listener) }
        setNonBlocking(listener)
        let relay = try RelayFixture([forwardService(
            to: upstreamPort, receive: ProxyReceiveConfig(), send: ProxySendConfig(version: .v2))])
        defer { relay.stop() }

        func claimed(_ n: Int) -> String { "10.\(n >> 16).\((n >> 8) & 0xFF).\(n & 0xFF):\(1024 + n)" }
        var clients: [Int32: (n: Int, received: [UInt8])] = [:]
        for n in 0..<count {
            let fd = try Sockets.connect(port: relay.port)
            setNonBlocking(fd)
            let address = claimed(n).split(separator: ":")
            let line = "PROXY TCP4 \(address[0]) 192.0.2.1 \(address[1]) 80\r\nid=\(n)\n"
            try Sockets.sendAll(fd, line)
            clients[fd] = (n, [])
        }
        var upstreams: [Int32: [UInt8]] = [:]
        var answered = 0
        var results: [Int: String] = [:]
        let deadline = monotonicSeconds() + 60
        while results.count < count && monotonicSeconds() < deadline {
            var pollers = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            pollers += upstreams.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            pollers += clients.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&pollers, nfds_t(pollers.count), 1000) > 0 else { continue }
            for poller in pollers where poller.revents != 0 {
                if poller.fd == listener {
                    while case let fd = accept(listener, nil, nil), fd >= 0 {
                        setNonBlocking(fd)
                        upstreams[fd] = []
                    }
                } else if var buffer = upstreams[poller.fd] {
                    let (bytes, _) = Sockets.receiveOnce(poller.fd)
                    buffer += bytes
                    upstreams[poller.fd] = buffer
                    // Header parsed and the client's `id=N\n` line complete: answer and close.
                    if case .header(let header, let consumed) = ProxyHeaderDetector().detect(buffer),
                       buffer.last == UInt8(ascii: "\n")
                    {
                        let id = String(decoding: buffer[consumed...].dropLast(), as: UTF8.self)
                        try? Sockets.sendAll(poller.fd, "\(id) \(header.source.map(\.description) ?? "-")\n")
                        close(poller.fd)
                        upstreams[poller.fd] = nil
                        answered += 1
                    } else if bytes.isEmpty {
                        close(poller.fd)
                        upstreams[poller.fd] = nil
                    }
                } else if let client = clients[poller.fd] {
                    let (bytes, _) = Sockets.receiveOnce(poller.fd)
                    if bytes.isEmpty {
                        results[client.n] = String(decoding: client.received, as: UTF8.self)
                        close(poller.fd)
                        clients[poller.fd] = nil
                    } else {
                        clients[poller.fd] = (client.n, client.received + bytes)
                    }
                }
            }
        }
        for fd in clients.keys { close(fd) }
        for fd in upstreams.keys { close(fd) }
        #expect(answered == count)
        let wrong = (0..<count).filter { results[$0] != "id=\($0) \(claimed($0))\n" }
        #expect(wrong.isEmpty, "\(wrong.count) wrong, e.g. \(wrong.prefix(3).map { results[$0] ?? "none" })")
        #expect(relay.metric("ringway_proxy_headers_received_v1_total") == UInt64(count))
    }
}
