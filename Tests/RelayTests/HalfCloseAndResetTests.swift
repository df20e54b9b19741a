import Glibc
import Relay
import RingwayTestSupport
import Testing

/// Each in copy mode and in splice mode.
@Suite("Half-close and resets")
struct HalfCloseAndResetTests {
    static let modes = [false, true]

    @Test(arguments: modes)
    func clientHalfCloseReachesUpstreamWhichCanStillAnswer(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, upstream in
            let request = (try? Sockets.receiveAll(fd)) ?? []  // until the client's FIN
            upstream.note("got " + String(decoding: request, as: UTF8.self))
            try? Sockets.sendAll(fd, "answer after your FIN")
            close(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        try Sockets.sendAll(client, "question")
        shutdown(client, Int32(SHUT_WR))
        let answer = try Sockets.receiveAll(client)
        #expect(String(decoding: answer, as: UTF8.self) == "answer after your FIN")
        #expect(upstream.recorded == ["got question"])
    }

    /// A client that half-closes and then resets while its upstream says nothing: nothing reads
    /// or writes its socket any more, yet the reset must end the connection (a churn run found
    /// such connections held, with their descriptors, until the idle timeout).
    @Test(arguments: modes)
    func aClientResetAfterItsHalfCloseEndsTheConnection(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, _ in
            usleep(5_000_000)  // silent: reads nothing, writes nothing
            close(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let clients = try (0..<10).map { _ in try Sockets.connect(port: relay.port) }
        for client in clients { try Sockets.sendAll(client, "x") }
        #expect(relay.eventually { relay.engine.activeConnections(service: 0) == clients.count })
        for client in clients { shutdown(client, Int32(SHUT_WR)) }
        usleep(200_000)
        for client in clients { Sockets.reset(client) }
        #expect(relay.eventually(seconds: 3) { relay.engine.activeConnections(service: 0) == 0 },
                "\(relay.engine.activeConnections(service: 0)) connections still held")
        #expect(relay.closes("client_reset") == UInt64(clients.count))
    }

    /// The upstream's FIN arrives while the last bytes to the client are still being sent, after
    /// the client had half-closed: the connection closes when that send completes, and the slot
    /// must go to the next client clean (a receive was once armed on the freed slot, leaving
    /// the next occupant unable to read its upstream).
    /// (Before the fix the next client hung and so did stopping the engine: hence the limit.)
    @Test(.timeLimit(.minutes(1)), arguments: modes)
    func closingOnTheLastSendLeavesTheSlotCleanForTheNextClient(splice: Bool) throws {
        let response = [UInt8](repeating: 0x61, count: 16 << 20)
        let upstream = try ScriptedUpstream { fd, _ in
            _ = try? Sockets.receiveAll(fd)
            try? Sockets.sendAll(fd, response)
            close(fd)
        }
        defer { upstream.stop() }
        // Four buffers per direction keep receiving (and so see the FIN) while sends are in flight.
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)], buffersPerDirection: 4)
        defer { relay.stop() }
        for round in 0..<8 {
            let client = try Sockets.connect(port: relay.port, timeoutSeconds: 5)
            defer { close(client) }
            try Sockets.sendAll(client, "request \(round)")
            shutdown(client, Int32(SHUT_WR))
            // Reading late keeps the relay's last sends in flight when the upstream's FIN lands.
            usleep(100_000)
            let answer = try? Sockets.receiveAll(client)
            #expect(answer?.count == response.count, "round \(round); closes: \(relay.closeSummary())")
            if answer?.count != response.count { break }
        }
    }

    @Test(arguments: modes)
    func upstreamHalfCloseReachesClientWhichCanStillSend(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, upstream in
            try? Sockets.sendAll(fd, "greeting")
            shutdown(fd, Int32(SHUT_WR))
            let rest = (try? Sockets.receiveAll(fd)) ?? []
            upstream.note("got " + String(decoding: rest, as: UTF8.self))
            close(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        let greeting = try Sockets.receiveAll(client)  // ends with the upstream's FIN
        #expect(String(decoding: greeting, as: UTF8.self) == "greeting")
        try Sockets.sendAll(client, "late words")
        shutdown(client, Int32(SHUT_WR))
        #expect(upstream.waitForNote { $0.hasPrefix("got") } == "got late words")
        #expect(relay.eventually { relay.engine.activeConnections(service: 0) == 0 })
    }

    @Test(arguments: modes)
    func clientResetReachesUpstreamAsReset(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, upstream in
            var results: [String] = []
            while true {
                let (bytes, code) = Sockets.receiveOnce(fd)
                if code != 0 { results.append(errnoName(code)); break }
                if bytes.isEmpty { results.append("EOF"); break }
            }
            upstream.note(results.joined())
            close(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        try Sockets.sendAll(client, "some bytes")
        #expect(relay.eventually { relay.metric("ringway_bytes_client_to_upstream_total") == 10 })
        usleep(50_000)
        Sockets.reset(client)
        #expect(upstream.waitForNote { !$0.isEmpty } == "ECONNRESET")
        #expect(relay.eventually {
            relay.metric("ringway_connections_closed_by_reason_total", label: "reason=\"client_reset\"") == 1
        })
    }

    @Test(arguments: modes)
    func upstreamResetReachesClientAsReset(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, _ in
            _ = Sockets.receiveOnce(fd)
            Sockets.reset(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        defer { close(client) }
        try Sockets.sendAll(client, "trigger")
        let (_, code) = Sockets.receiveOnce(client)
        #expect(errnoName(code) == "ECONNRESET")
        #expect(relay.eventually {
            relay.metric("ringway_connections_closed_by_reason_total", label: "reason=\"upstream_reset\"") == 1
        })
    }

    /// The client goes away while the upstream is still streaming: the relay closes the
    /// upstream side too and frees the connection.
    @Test(arguments: modes)
    func clientLeavingMidTransferEndsTheUpstreamSide(splice: Bool) throws {
        let upstream = try ScriptedUpstream { fd, upstream in
            let chunk = [UInt8](repeating: 0x61, count: 65536)
            var total = 0
            while total < 512 << 20 {
                let sent = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno == EINTR { continue }
                if sent < 0 {
                    upstream.note("stopped: " + errnoName(errno))
                    break
                }
                total += sent
            }
            close(fd)
        }
        defer { upstream.stop() }
        let relay = try RelayFixture([forwardService(to: upstream.port, splice: splice)])
        defer { relay.stop() }
        let client = try Sockets.connect(port: relay.port)
        _ = try Sockets.receive(client, exactly: 1 << 20)
        close(client)  // unread data pending: the kernel answers with RST
        let note = upstream.waitForNote { $0.hasPrefix("stopped") }
        #expect(note == "stopped: ECONNRESET" || note == "stopped: EPIPE")
        #expect(relay.eventually { relay.engine.activeConnections(service: 0) == 0 })
    }
}
