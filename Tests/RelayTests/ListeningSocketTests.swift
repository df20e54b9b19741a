import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Testing
import Uring

/// Accepted client sockets take TCP_NODELAY from their listener, so the worker sets no option per
/// connection; this checks the listener has it and that the kernel passes it on.
@Suite("Listening sockets")
struct ListeningSocketTests {
    @Test func acceptedSocketsInheritNoDelayFromTheListener() throws {
        let (sockets, port) = try openListeningSockets(service: "t", listen: ListenAddress(host: .v4(.loopback), port: 0), count: 1)
        defer { sockets.forEach { $0.closeNow() } }
        #expect(noDelay(sockets[0].rawValue) == 1)
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        let accepted = accept(sockets[0].rawValue, nil, nil)
        defer { close(accepted) }
        #expect(accepted >= 0)
        #expect(noDelay(accepted) == 1, "the accepted socket inherits TCP_NODELAY")
    }

    private func noDelay(_ fd: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(4)
        getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length)
        return value
    }
}
