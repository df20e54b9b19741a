import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Testing
import Uring

/// The connection state machine driven with synthetic completions on a scripted kernel: no
/// sockets, every request the worker prepares checked, every transition of the dispatch taken.
@Suite("Connection state machine")
struct StateMachineTests {
    static let peer = IPEndpoint(address: IPAddress("192.0.2.10")!, port: 40000)

    /// Accepts one client on a plain forwarding service and connects it: relaying, copy mode.
    func relaying(_ machine: Machine) throws {
        try machine.startRelaying(from: Self.peer)
        #expect(machine.firstPhase == "relaying (copy)")
        #expect(machine.has(.receive, .inbound) && machine.has(.receive, .outbound))
    }

    @Test func detectConnectRelayAndCloseWithHalfCloses() throws {
        let machine = try Machine([scriptedService(receive: ProxyReceiveConfig(), send: ProxySendConfig(version: .v1))])
        try machine.accept(from: Self.peer)
        #expect(machine.firstPhase == "detecting")
        // The header and early bytes in one read: connect, with the preamble laid out.
        try machine.peek(ascii("PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nhello"))
        #expect(machine.firstPhase == "connecting")
        #expect(machine.counter(.proxyHeadersV1) == 1)
        try machine.complete(.connect, nil, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        // The preamble leaves first: the outgoing v1 header naming the client, then "hello".
        let preamble = try machine.take(.send, .inbound)
        #expect(String(decoding: preamble.bytes, as: UTF8.self) == "PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nhello")
        machine.complete(preamble, .success(Int32(preamble.bytes.count)))
        // Client FIN: after the last byte, the upstream gets FIN too, by a direct shutdown.
        let upstream = machine.worker.slab[0].connection.pointee.upstreamSocket
        try machine.complete(.receive, .inbound, .success(0))
        #expect(machine.kernel.shutdownWrites == [upstream])
        // Upstream FIN: both directions done, the connection ends.
        try machine.complete(.receive, .outbound, .success(0))
        #expect(machine.active == 0)
        #expect(machine.closes(.finished) == 1)
        #expect(machine.count(.closeDescriptor) == 2, "both sockets closed on the ring")
    }

    /// A normal end: each FIN is passed on by a shutdown system call, not a ring request (the
    /// kernel runs ring shutdowns on an io-wq thread), so nothing is in flight when the second
    /// FIN arrives: no cancel (one per descriptor cost 2-3% of the CPU of short connections), and
    /// the slot goes at once. The FIN that closes the connection needs no shutdown of its own.
    @Test func aNormalEndShutsDownDirectlyAndClosesAtTheSecondFIN() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let (client, upstream) = (machine.worker.slab[0].connection.pointee.clientSocket,
                                  machine.worker.slab[0].connection.pointee.upstreamSocket)
        try machine.complete(.receive, .inbound, .success(0))
        #expect(machine.kernel.shutdownWrites == [upstream])
        #expect(machine.worker.slab[0].connection.pointee.inflight == 1, "only the outbound receive")
        try machine.complete(.receive, .outbound, .success(0))
        #expect(!machine.has(.cancel), "nothing that waits on a peer is in flight")
        #expect(machine.active == 0)
        #expect(machine.kernel.shutdownWrites == [upstream], "the close sends the client its FIN")
        #expect(!machine.kernel.shutdownWrites.contains(client))
        #expect(machine.closes(.finished) == 1)
        #expect(machine.count(.closeDescriptor) == 2)
    }

    /// A receive in flight can wait on its peer for ever: closing then cancels it.
    @Test func aCloseWithAReceiveInFlightCancelsIt() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        try machine.complete(.receive, .inbound, .success(0))
        machine.worker.closeAll(reason: .draining)
        #expect(machine.has(.cancel), "the outbound receive is cancelled")
    }

    @Test func shortSendsResumeWhereTheyStopped() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        try machine.receive(.inbound, ascii("0123456789"), buffer: 0)
        let first = try machine.take(.send, .inbound)
        #expect(first.bytes == ascii("0123456789"))
        machine.complete(first, .success(4))
        let rest = try machine.take(.send, .inbound)
        #expect(rest.bytes == ascii("456789"))
        machine.complete(rest, .success(6))
        #expect(machine.worker.pools.held == 0, "the buffer went back")
        #expect(machine.has(.receive, .inbound))
        #expect(machine.counter(.bytesClientToUpstream) == 10)
    }

    @Test func aClientResetResetsTheUpstreamAndFreesTheSlot() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let upstream = machine.worker.slab[0].connection.pointee.upstreamSocket
        try machine.complete(.receive, .inbound, .failure(.connectionReset))
        #expect(machine.firstPhase == "closing")
        #expect(machine.kernel.resetOnClose.contains(upstream.rawValue), "the upstream sees RST too")
        #expect(machine.count(.cancel) == 2)
        machine.cancelPending([.cancel, .receive])
        #expect(machine.active == 0)
        #expect(machine.closes(.clientReset) == 1)
    }

    @Test func anUpstreamResetOnASendResetsTheClient() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let client = machine.worker.slab[0].connection.pointee.clientSocket
        try machine.receive(.inbound, ascii("x"), buffer: 0)
        try machine.complete(.send, .inbound, .failure(.brokenPipe))
        #expect(machine.kernel.resetOnClose.contains(client.rawValue))
        machine.cancelPending([.cancel, .receive])
        #expect(machine.closes(.upstreamReset) == 1)
        #expect(machine.worker.pools.held == 0, "buffers of a closed connection go back")
    }

    /// A completion for a slot's earlier occupant never touches the new one.
    @Test func staleCompletionsAreDropped() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let oldReceive = try machine.take(.receive, .outbound)
        try machine.complete(.receive, .inbound, .failure(.connectionReset))
        machine.complete(oldReceive, .failure(.canceled))
        machine.cancelPending([.cancel])
        #expect(machine.active == 0)
        // The same slot, a new client.
        try relaying(machine)
        #expect(machine.worker.slab[0].connection.pointee.generation != oldReceive.userData.generation)
        // A completion for the old occupant (as a duplicate would be) carrying a buffer.
        machine.complete(oldReceive, .success(5), buffer: 3)
        #expect(machine.firstPhase == "relaying (copy)")
        #expect(machine.worker.pools.held == 0, "the stale completion's buffer went back")
        #expect(!machine.has(.send), "nothing was sent for it")
    }

    /// An empty pool is not an end of stream: the direction waits, watched for resets, and is
    /// re-armed when buffers come back (or are added).
    @Test func anEmptyPoolMakesTheReceiveWaitNotEnd() throws {
        // 128 buffers, 64 in circulation: the pool is empty below its limit, so it can grow.
        let machine = try Machine([scriptedService()], bufferCount: 128)
        try relaying(machine)
        try machine.complete(.receive, .outbound, .failure(.noBuffers))
        #expect(machine.worker.pools.waiters.count == 1)
        #expect(machine.has(.watch, .outbound), "the source is watched for a reset meanwhile")
        #expect(machine.counter(.bufferWaits) == 1)
        machine.endTurn()
        #expect(machine.worker.pools.waiters.count == 0)
        #expect(machine.has(.receive, .outbound), "re-armed once the pool grew")
        // The watch ends without an error: nothing happens.
        try machine.complete(.watch, .outbound, .success(0x2000))  // POLLRDHUP
        #expect(machine.firstPhase == "relaying (copy)")
    }

    /// At its limit the main pool hands over to the reserve at once; the reserve empty too,
    /// the receive waits.
    @Test func anExhaustedMainPoolHandsOverToTheReserve() throws {
        let machine = try Machine([scriptedService()], bufferCount: 8)
        try relaying(machine)
        try machine.complete(.receive, .outbound, .failure(.noBuffers))
        let retry = try machine.take(.receive, .outbound)
        #expect(retry.userData.pool == .reserve && retry.bufferGroup == BufferPools.reserveGroup)
        #expect(machine.counter(.bufferPoolExhausted) == 1)
        machine.complete(retry, .failure(.noBuffers))
        #expect(machine.worker.pools.waiters.count == 1)
    }

    @Test func aResetWhileWaitingForBuffersIsSeenByTheWatch() throws {
        let machine = try Machine([scriptedService()], bufferCount: 128)
        try relaying(machine)
        try machine.complete(.receive, .inbound, .failure(.noBuffers))
        try machine.complete(.watch, .inbound, .success(Int32(POLLERR | POLLHUP)))
        #expect(machine.firstPhase == "closing")
        #expect(machine.worker.pools.waiters.count == 0, "the waiting entry left with the connection")
        machine.cancelPending([.cancel, .receive])
        #expect(machine.closes(.clientReset) == 1)
    }

    /// A client that half-closes and then resets while the upstream says nothing: no read or
    /// write on its socket would ever see the reset; the connection's timer looks at the socket's
    /// error once a second. (A churn run found such connections held until the idle timeout.)
    @Test(arguments: [false, true])
    func aResetAfterAHalfCloseIsFoundByTheCheck(splice: Bool) throws {
        let machine = try Machine([scriptedService(splice: splice, idleTimeout: .zero)])
        try machine.accept(from: Self.peer)
        try machine.complete(.connect, nil, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        let start = machine.worker.now
        let (client, upstream) = (machine.worker.slab[0].connection.pointee.clientSocket,
                                  machine.worker.slab[0].connection.pointee.upstreamSocket)
        try machine.complete(splice ? .spliceFill : .receive, .inbound, .success(0))
        // No error at the first check (a second on, 10 ms ticks): it comes back a second later,
        // even without an idle timeout.
        machine.endTurn(at: start + 1100)
        #expect(machine.firstPhase == (splice ? "relaying (splice)" : "relaying (copy)"))
        // The client resets (its socket, in CLOSE_WAIT, reports EPIPE).
        machine.kernel.socketErrors[client.rawValue] = .brokenPipe
        machine.endTurn(at: start + 1500)
        #expect(machine.firstPhase != "closing", "not before the next check")
        machine.endTurn(at: start + 2200)
        #expect(machine.firstPhase == "closing")
        #expect(machine.kernel.resetOnClose.contains(upstream.rawValue), "the upstream sees RST too")
        machine.cancelPending([.cancel, .receive, .spliceFill])
        #expect(machine.active == 0)
        #expect(machine.closes(.clientReset) == 1)
    }

    /// The same for an upstream that half-closes and resets while the client stays silent.
    @Test func anUpstreamResetAfterItsHalfCloseIsFoundByTheCheck() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let start = machine.worker.now
        let (client, upstream) = (machine.worker.slab[0].connection.pointee.clientSocket,
                                  machine.worker.slab[0].connection.pointee.upstreamSocket)
        try machine.complete(.receive, .outbound, .success(0))
        machine.kernel.socketErrors[upstream.rawValue] = .brokenPipe
        machine.endTurn(at: start + 1100)
        #expect(machine.firstPhase == "closing")
        #expect(machine.kernel.resetOnClose.contains(client.rawValue))
        machine.cancelPending([.cancel, .receive])
        #expect(machine.closes(.upstreamReset) == 1)
    }

    @Test func timeoutsOfEachPhase() throws {
        // Detecting: require, nothing arrives.
        let detecting = try Machine([scriptedService(receive: ProxyReceiveConfig(policy: .require, timeout: .milliseconds(100)))])
        try detecting.accept(from: Self.peer)
        detecting.endTurn(at: detecting.worker.now + 200)
        #expect(detecting.firstPhase == "closing")
        detecting.cancelPending([.cancel, .peek])
        #expect(detecting.closes(.proxyHeaderTimeout) == 1)
        // Relaying: idle.
        let idle = try Machine([scriptedService(idleTimeout: .milliseconds(300))])
        try relaying(idle)
        idle.endTurn(at: idle.worker.now + 200)
        #expect(idle.firstPhase == "relaying (copy)")
        idle.endTurn(at: idle.worker.now + 200)
        #expect(idle.firstPhase == "closing")
        idle.cancelPending([.cancel, .receive])
        #expect(idle.closes(.idleTimeout) == 1)
        // Connecting: the linked timeout cancels the connect; the only target was tried.
        let connect = try Machine([scriptedService()])
        try connect.accept(from: Self.peer)
        try connect.complete(.connect, nil, .failure(.canceled))
        try connect.complete(.connectTimeout, nil, .failure(.timedOut))
        connect.cancelPending([.cancel])
        #expect(connect.active == 0)
        #expect(connect.closes(.upstreamUnavailable) == 1)
        #expect(connect.counter(.upstreamConnectTimeouts) == 1)
    }

    @Test func optionalDetectionProceedsWithoutAHeaderAtTheTimeout() throws {
        let machine = try Machine([scriptedService(receive: ProxyReceiveConfig(timeout: .milliseconds(100)))])
        try machine.accept(from: Self.peer)
        machine.endTurn(at: machine.worker.now + 200)
        #expect(machine.firstPhase == "connecting", "a server-speaks-first client goes ahead")
        try machine.complete(.connect, nil, .success(0))
        // The peek is still the client socket's only reader: no receive beside it.
        #expect(!machine.has(.receive, .inbound))
        try machine.peek(ascii("late bytes"))
        #expect(try machine.take(.send, .inbound).bytes == ascii("late bytes"))
    }

    @Test func aClosingConnectionThatStallsIsPushedAgain() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        try machine.complete(.receive, .inbound, .failure(.connectionReset))
        let cancels = machine.count(.cancel)  // they never complete
        machine.endTurn(at: machine.worker.now + 2100)
        #expect(machine.counter(.closeStalls) == 1)
        #expect(machine.kernel.shutdownNow.count == 2, "both sockets shut down to wake blocked requests")
        #expect(machine.count(.cancel) == cancels + 2, "cancelled again")
    }

    @Test func drainStopsAcceptingAndTheDeadlineClosesWhatIsLeft() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let start = machine.worker.now
        machine.worker.beginDrain(deadline: start + 1000)
        let cancel = try machine.take(.cancel)
        #expect(cancel.target?.verb == .accept, "the multishot accept is cancelled")
        machine.endTurn(at: start + 999)
        #expect(machine.firstPhase == "relaying (copy)", "open connections go on until the deadline")
        #expect(machine.closes(.draining) == 0)
        machine.endTurn(at: start + 1000)
        #expect(machine.firstPhase == "closing", "the deadline closes what is left")
        machine.cancelPending([.cancel, .receive])
        #expect(machine.active == 0)
        #expect(machine.closes(.draining) == 1)
    }

    /// The drain serves the backlog, and again just before the listener closes: a client that
    /// completed its handshake while the cancelled accept was still in flight is served rather
    /// than reset by the close (it was reset before this sweep).
    @Test func drainServesClientsQueuedUntilTheListenerCloses() throws {
        let machine = try Machine([scriptedService()])
        let listener = machine.listeners[0]
        func queueClient(port: UInt16) {
            let client = machine.kernel.newDescriptor()
            machine.kernel.peers[client.rawValue] = IPEndpoint(address: .v4(.loopback), port: port)
            machine.kernel.backlogs[listener.rawValue, default: []].append(client)
        }
        queueClient(port: 40001)
        machine.worker.beginDrain(deadline: machine.worker.now + 10_000)
        #expect(machine.active == 1, "the backlog is served when the drain begins")
        #expect(!machine.kernel.closedNow.contains(listener), "the cancelled accept is still in flight")
        queueClient(port: 40002)
        machine.complete(try machine.take(.accept), .failure(.canceled))
        #expect(machine.active == 2, "the client queued since is served too")
        #expect(machine.kernel.closedNow.contains(listener), "then the listener closes")
        #expect(machine.kernel.backlogs[listener.rawValue]?.isEmpty != false)
    }

    /// A completion the dispatch has no transition for closes the connection as an internal
    /// error instead of being guessed at.
    @Test func anUnexpectedCompletionIsAnInternalError() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let slot = machine.worker.slab[0]
        let bogus = ScriptedKernel.Request(userData: slot.userData(.spliceFill, .inbound), descriptor: .none)
        slot.connection.pointee.inflight += 1  // as if the worker had submitted it
        machine.complete(bogus, .success(10))
        #expect(machine.firstPhase == "closing")
        machine.cancelPending([.cancel, .receive])
        #expect(machine.closes(.internalError) == 1)
    }

    @Test func spliceFillsDrainsAndWaitsOnPolls() throws {
        let machine = try Machine([scriptedService(splice: true)])
        try machine.accept(from: Self.peer)
        try machine.complete(.connect, nil, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        #expect(machine.firstPhase == "relaying (splice)")
        try machine.complete(.spliceFill, .inbound, .success(100))
        let drain = try machine.take(.spliceDrain, .inbound)
        #expect(drain.length == 100)
        machine.complete(drain, .failure(.wouldBlock))
        try machine.complete(.pollDrain, .inbound, .success(Int32(POLLOUT)))
        try machine.complete(.spliceDrain, .inbound, .success(100))
        // Pipe empty: fill again; an empty source waits on a poll.
        try machine.complete(.spliceFill, .inbound, .failure(.wouldBlock))
        try machine.complete(.pollFill, .inbound, .success(Int32(POLLIN)))
        #expect(machine.has(.spliceFill, .inbound))
        #expect(machine.counter(.bytesClientToUpstream) == 100)
        // End of both streams: pipes and sockets closed on the ring.
        try machine.complete(.spliceFill, .inbound, .success(0))
        try machine.complete(.spliceFill, .outbound, .success(0))
        #expect(machine.closes(.finished) == 1)
        #expect(machine.count(.closeDescriptor) == 6)
    }

    /// Splices run on io-wq threads, where a signal to the process (SIGCHLD in a test run full of
    /// child processes) can interrupt one: EINTR retries the splice, it is not a socket error.
    @Test func anInterruptedSpliceIsTriedAgain() throws {
        let machine = try Machine([scriptedService(splice: true)])
        try machine.accept(from: Self.peer)
        try machine.complete(.connect, nil, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        try machine.complete(.spliceFill, .outbound, .failure(.interrupted))
        #expect(machine.has(.spliceFill, .outbound), "the fill is tried again")
        try machine.complete(.spliceFill, .outbound, .success(64))
        try machine.complete(.spliceDrain, .outbound, .failure(.interrupted))
        let retry = try machine.take(.spliceDrain, .outbound)
        #expect(retry.length == 64, "the drain is tried again with the same bytes")
        #expect(machine.firstPhase == "relaying (splice)")
        #expect(machine.counter(.connectionsClosed) == 0)
    }

    @Test func whoamiAnswersAndKeepsTheConnectionForTheNextRequest() throws {
        let machine = try Machine([scriptedService(kind: .whoami)])
        try machine.accept(from: Self.peer)
        #expect(machine.firstPhase == "serving")
        try machine.peek(ascii("GET /x HTTP/1.1\r\nHost: a\r\n\r\n"))
        let response = try machine.take(.send, .outbound)
        let text = String(decoding: response.bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK") && text.contains("client: 192.0.2.10:40000"))
        machine.complete(response, .success(Int32(response.bytes.count)))
        #expect(machine.has(.peek), "keep-alive: the next request is awaited")
        #expect(machine.counter(.httpRequests) == 1)
        // A request that never completes hits the request timeout.
        try machine.peek(ascii("GET"))
        machine.endTurn(at: machine.worker.now + 11_000)
        machine.cancelPending([.cancel, .peek])
        #expect(machine.closes(.requestTimeout) == 1)
    }

    @Test func aClientWhoseAddressIsGoneIsClosedAtOnce() throws {
        let machine = try Machine([scriptedService(receive: ProxyReceiveConfig())])
        try machine.accept(from: nil)
        #expect(machine.active == 0)
        #expect(machine.closes(.peerUnknown) == 1)
        #expect(!machine.has(.peek) && !machine.has(.connect), "nothing of it was read, nothing connected")
    }

    /// A service that sends PROXY headers peeks while it connects: bytes that arrive before the
    /// connect completes join the header in the first send.
    @Test func earlyBytesJoinThePreambleWhileConnecting() throws {
        let machine = try Machine([scriptedService(send: ProxySendConfig(version: .v1))])
        try machine.accept(from: Self.peer)
        #expect(machine.firstPhase == "connecting")
        try machine.peek(ascii("early"))
        #expect(!machine.has(.peek), "one peek only; the rest comes by receives once relaying")
        try machine.complete(.connect, nil, .success(0))
        let preamble = try machine.take(.send, .inbound)
        #expect(String(decoding: preamble.bytes, as: UTF8.self) == "PROXY TCP4 192.0.2.10 127.0.0.1 40000 8080\r\nearly")
        #expect(machine.has(.receive, .inbound))
    }

    /// maxConnections: a connection accepted without a free place waits queued, untouched, and
    /// starts when a place frees.
    @Test func aConnectionBeyondTheLimitWaitsQueued() throws {
        var service = scriptedService()
        service.maxConnections = 1
        let machine = try Machine([service])
        try relaying(machine)
        try machine.accept(from: Self.peer)
        #expect(machine.worker.slab[1].connection.pointee.phase.name == "queued")
        #expect(!machine.has(.connect), "nothing started for it")
        // The first leaves: at the end of the turn the queued one takes its place.
        try machine.complete(.receive, .inbound, .failure(.connectionReset))
        machine.cancelPending([.cancel, .receive])
        machine.endTurn()
        #expect(machine.worker.slab[1].connection.pointee.phase.name == "connecting")
        #expect(machine.has(.connect))
    }

    @Test func aRefusedConnectTriesTheNextTargetThenGivesUp() throws {
        let machine = try Machine([scriptedService(targetPorts: [80, 81])])
        func connectPort(_ request: ScriptedKernel.Request) -> UInt16? {
            if case .ipv4(_, let port)? = request.address?.parts { return port }
            return nil
        }
        try machine.accept(from: Self.peer)
        let first = try machine.take(.connect)
        #expect(connectPort(first) == 80, "round robin starts at the first target")
        machine.complete(first, .failure(.connectionRefused))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        #expect(machine.kernel.closedNow == [first.descriptor], "the refused socket is closed at once")
        let second = try machine.take(.connect)
        #expect(connectPort(second) == 81, "the next target, on a new socket")
        #expect(second.descriptor != first.descriptor)
        #expect(machine.firstPhase == "connecting")
        #expect(machine.counter(.upstreamConnectFailures) == 1)
        machine.complete(second, .failure(.connectionRefused))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        // Every target was tried once: the client goes, nothing else is tried.
        #expect(!machine.has(.connect))
        machine.cancelPending([.cancel])
        #expect(machine.active == 0)
        #expect(machine.closes(.upstreamUnavailable) == 1)
        #expect(machine.counter(.upstreamConnectFailures) == 2)
        // The next client starts at the next target in turn.
        try machine.accept(from: Self.peer)
        #expect(connectPort(try machine.take(.connect)) == 81)
    }

    /// The slab stores connections by value and resets slots by assignment: a field with a
    /// reference in it would put retain/release on every event and a free on every reuse.
    @Test func aConnectionIsPlainData() {
        #expect(_isPOD(Connection.self))
        #expect(_isPOD(Phase.self))
    }

    @Test func userDataRoundTripsAndKeepsItsLayout() {
        for verb in Verb.allCases {
            for side in [Side.inbound, .outbound] {
                for pool in [Pool.main, .reserve] {
                    let data = UserData(verb, slot: 123_456, generation: 0xAB_CDEF, side: side, pool: pool)
                    #expect(UserData(packed: data.packed) == data)
                    #expect(data.packed >> 58 == UInt64(verb.rawValue))
                }
            }
        }
        #expect(UserData(.accept, slot: -1).slot == -1)
        #expect(UserData(packed: 0) == nil, "an unknown verb is nobody's request")
        #expect(UserData(.send, slot: 1, generation: 0x1FF_FFFF).generation == 0xFF_FFFF, "24 bits of generation")
    }
}
