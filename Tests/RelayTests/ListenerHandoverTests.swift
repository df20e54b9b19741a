import Foundation
import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Synchronization
import Testing
import Uring

/// `ListenerHandover`: a successor takes its predecessor's very listening sockets over a Unix
/// socket, and the predecessor's drain leaves them listening (README, Zero-loss replacement).
@Suite("Listener handover", .serialized)
struct ListenerHandoverTests {
    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ringway-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock").path
    }

    /// The socket's inode: two descriptors of one socket, in one process or two, share it.
    static func inode(_ descriptor: Descriptor) -> UInt {
        var status = stat()
        return fstat(descriptor.rawValue, &status) == 0 ? UInt(status.st_ino) : 0
    }

    /// Runs `takeOver` on a thread of its own while this one serves the predecessor's side;
    /// returns the outcome and the predecessor's handover log lines.
    static func handOver(from fixture: RelayFixture, server: ListenerHandover.Server, path: String) -> (ListenerHandover.Outcome, [String]) {
        let outcome = Mutex<ListenerHandover.Outcome?>(nil)
        let thread = Thread { let taken = ListenerHandover.takeOver(from: path); outcome.withLock { $0 = taken } }
        thread.start()
        let done = becomesTrue(within: 10, interval: 2_000) {
            server.serveWaiting(fixture.engine)
            return outcome.withLock { $0 != nil }
        }
        precondition(done, "the successor's side did not finish")
        let lines = waitFor(seconds: 5) { () -> [String]? in
            let lines = fixture.logs.lines.filter { $0.contains("\"kind\":\"handover\"") }
            return lines.isEmpty ? nil : lines
        } ?? []
        return (outcome.withLock { $0! }, lines)
    }

    /// The sockets an outcome carries; a test failure when it carries none.
    static func received(_ outcome: ListenerHandover.Outcome) throws -> (listeners: InheritedListeners, pid: Int32) {
        guard case .received(let inherited, let pid) = outcome else { throw SocketError(what: "no sockets received: \(outcome)", code: 0) }
        return (inherited, pid)
    }

    /// Serves the predecessor's side until it logged what became of its handover.
    static func confirmation(of fixture: RelayFixture, server: ListenerHandover.Server) -> String? {
        waitFor(seconds: 10) { () -> String? in
            server.serveWaiting(fixture.engine)
            return fixture.logs.lines.first { $0.contains("\"kind\":\"handover\"") && $0.contains("pid") && !$0.contains("waiting for it") }
        }
    }

    /// Another descriptor of each of the predecessor's sockets (the same open file), to look at
    /// their flags after it has closed its own.
    static func duplicates(of fixture: RelayFixture) -> [Int32: Int32] {
        var copies: [Int32: Int32] = [:]
        for socket in fixture.engine.listeningSocketsForHandover() ?? [] { copies[socket.rawValue] = dup(socket.rawValue) }
        return copies
    }

    @Test func aSuccessorTakesTheVerySocketsAndTheyOutliveThePredecessor() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        var service = forwardService(to: echo.port)
        service.listen.port = try freePort()
        let predecessor = try RelayFixture([service], workers: 2)
        let path = Self.temporaryPath("handover")
        defer { unlink(path) }
        let server = try ListenerHandover.Server(path: path)
        #expect(FileManager.default.fileExists(atPath: path))
        var mode = stat()
        #expect(stat(path, &mode) == 0 && mode.st_mode & 0o777 == 0o600, "only this user may ask for sockets")

        let (outcome, lines) = Self.handOver(from: predecessor, server: server, path: path)
        let (inherited, pid) = try Self.received(outcome)
        #expect(pid == getpid())
        #expect(inherited.count == 2)
        #expect(lines.first?.contains("handed 2 listening sockets") == true, "\(lines)")
        #expect(predecessor.engine.socketsHandedOver == 0, "nothing is shared before the successor runs")

        // Three workers: two take the sockets handed over, the third binds one of its own.
        let successorFixture = try RelayFixture([service], workers: 3, drainTimeout: .seconds(5), inheriting: inherited)
        defer { successorFixture.stop() }
        let successor = successorFixture.engine
        #expect(successor.inheritedSocketsUsed == 2)
        #expect(inherited.confirmKept() == nil)
        let confirmed = Self.confirmation(of: predecessor, server: server)
        #expect(confirmed?.contains("keeps 2 of the 2 listening sockets") == true, "\(confirmed ?? "none")")
        #expect(predecessor.engine.socketsHandedOver == 2)
        let before = Set((predecessor.engine.listeningSocketsForHandover() ?? []).map(Self.inode))
        let after = (successor.listeningSocketsForHandover() ?? []).map(Self.inode)
        #expect(after.count == 3)
        #expect(Set(after).intersection(before).count == 2, "the same sockets, not new ones on the port")

        // The predecessor drains and exits; the sockets go on listening, blocking as they were.
        predecessor.engine.drain()
        predecessor.engine.wait()
        predecessor.logs.finish()
        for socket in successor.listeningSocketsForHandover() ?? [] {
            #expect(socket.isListeningTCPSocket)
            #expect(fcntl(socket.rawValue, F_GETFL) & O_NONBLOCK == 0, "the predecessor's drain did not touch the shared flag")
        }
        for round in 0..<20 {
            let client = try Sockets.connect(port: service.listen.port, timeoutSeconds: 5)
            defer { close(client) }
            try Sockets.sendAll(client, "round \(round)")
            #expect(try Sockets.receive(client, exactly: "round \(round)".utf8.count) == Array("round \(round)".utf8))
        }
    }

    @Test func aDrainingPredecessorKeepsItsSockets() throws {
        var service = forwardService(to: try closedPort())
        service.listen.port = try freePort()
        let predecessor = try RelayFixture([service], workers: 1)
        let path = Self.temporaryPath("draining")
        defer { unlink(path) }
        let server = try ListenerHandover.Server(path: path)
        predecessor.engine.drain()
        let (outcome, lines) = Self.handOver(from: predecessor, server: server, path: path)
        guard case .failed(let reason) = outcome else {
            Issue.record("expected a refusal, got \(outcome)")
            return
        }
        #expect(reason.contains("is draining"), "\(reason)")
        #expect(lines.first?.contains("while this process drains") == true, "\(lines)")
        #expect(lines.first?.contains("\"level\":\"warn\"") == true, "\(lines)")
        predecessor.engine.wait()
        predecessor.logs.finish()
    }

    /// Nothing at the path, or a socket file its process left behind: start as usual.
    @Test func withoutAPredecessorNothingIsTaken() throws {
        let path = Self.temporaryPath("nobody")
        guard case .noPredecessor = ListenerHandover.takeOver(from: path) else {
            Issue.record("a missing file is no predecessor")
            return
        }
        do {
            _ = try ListenerHandover.Server(path: path)  // closed at once: the file stays, stale
        }
        defer { unlink(path) }
        #expect(FileManager.default.fileExists(atPath: path))
        guard case .noPredecessor = ListenerHandover.takeOver(from: path) else {
            Issue.record("a stale socket file is no predecessor")
            return
        }
    }

    /// Fail closed: only listening TCP sockets are kept; anything else handed over is closed.
    @Test func onlyListeningTCPSocketsAreKept() throws {
        let (listener, port) = try Sockets.listen()
        let connected = try Sockets.connect(port: port)
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)
        let inherited = InheritedListeners([listener, connected, ends[0]].map { Descriptor(rawValue: $0) })
        #expect(inherited.count == 1)
        for closed in [connected, ends[0]] {
            #expect(fcntl(closed, F_GETFD) == -1 && errno == EBADF, "fd \(closed) was closed")
        }
        close(ends[1])
        close(listener)
    }

    /// A successor that takes the sockets and never runs (it hangs up without confirming)
    /// leaves them the predecessor's own: its drain serves their backlog (making them
    /// non-blocking to sweep it) as if there had been no handover. Before the confirmation they
    /// were marked shared at once, and the drain closed them over their queued clients.
    @Test func aSuccessorThatNeverRunsLeavesTheSocketsToThePredecessor() throws {
        var service = forwardService(to: try closedPort())
        service.listen.port = try freePort()
        let predecessor = try RelayFixture([service], workers: 2)
        let path = Self.temporaryPath("never-runs")
        defer { unlink(path) }
        let server = try ListenerHandover.Server(path: path)
        let copies = Self.duplicates(of: predecessor)
        defer { copies.values.forEach { close($0) } }
        do {
            let (outcome, _) = Self.handOver(from: predecessor, server: server, path: path)
            _ = try Self.received(outcome).listeners.closeUnused()
        }  // the successor's side goes: its handover connection closes unconfirmed
        let confirmed = Self.confirmation(of: predecessor, server: server)
        #expect(confirmed?.contains("hung up without confirming") == true, "\(confirmed ?? "none")")
        #expect(confirmed?.contains("\"level\":\"warn\"") == true)
        #expect(predecessor.engine.socketsHandedOver == 0)
        server.close(predecessor.engine)
        predecessor.engine.drain()
        predecessor.engine.wait()
        predecessor.logs.finish()
        #expect(copies.count == 2)
        for copy in copies.values {
            #expect(fcntl(copy, F_GETFL) & O_NONBLOCK != 0, "the drain swept the socket as its own")
        }
    }

    /// A successor with fewer workers keeps fewer sockets and says which: the predecessor leaves
    /// those alone at its drain and sweeps the others, which only it still holds.
    @Test func onlyTheSocketsTheSuccessorKeptAreLeftToIt() throws {
        var service = forwardService(to: try closedPort())
        service.listen.port = try freePort()
        let predecessor = try RelayFixture([service], workers: 2)
        let path = Self.temporaryPath("fewer")
        defer { unlink(path) }
        let server = try ListenerHandover.Server(path: path)
        let copies = Self.duplicates(of: predecessor)
        defer { copies.values.forEach { close($0) } }
        let (outcome, _) = Self.handOver(from: predecessor, server: server, path: path)
        let inherited = try Self.received(outcome).listeners
        let successorFixture = try RelayFixture([service], workers: 1, drainTimeout: .seconds(5), inheriting: inherited)
        defer { successorFixture.stop() }
        let successor = successorFixture.engine
        #expect(successor.inheritedSocketsUsed == 1)
        #expect(inherited.confirmKept() == nil)
        let confirmed = Self.confirmation(of: predecessor, server: server)
        #expect(confirmed?.contains("keeps 1 of the 2 listening sockets") == true, "\(confirmed ?? "none")")
        let kept = Set((successor.listeningSocketsForHandover() ?? []).map(Self.inode))
        server.close(predecessor.engine)
        predecessor.engine.drain()
        predecessor.engine.wait()
        predecessor.logs.finish()
        var swept = 0
        for copy in copies.values {
            let nonBlocking = fcntl(copy, F_GETFL) & O_NONBLOCK != 0
            if kept.contains(Self.inode(Descriptor(rawValue: copy))) {
                #expect(!nonBlocking, "the socket the successor kept was left alone")
            } else {
                #expect(nonBlocking, "the socket only the predecessor held was swept")
                swept += 1
            }
        }
        #expect(swept == 1)
    }

    /// The confirmation round-trips; anything else a peer sends confirms nothing (fail closed).
    @Test func keptSocketsMessage() throws {
        let message = try #require(KeptSocketsMessage.encode([3, 0, 3, 300]))
        #expect(message == [UInt8(ascii: "K"), 4, 0, 3, 0, 0, 0, 3, 0, 44, 1])
        #expect(KeptSocketsMessage.decode(message, handed: 301) == .kept([0, 3, 300]))
        #expect(KeptSocketsMessage.decode(message, handed: 300) == .invalid("confirmed a socket it was not given"))
        #expect(KeptSocketsMessage.decode([], handed: 4) == .invalid("hung up without confirming (it did not start)"))
        #expect(KeptSocketsMessage.decode([UInt8(ascii: "X"), 0, 0], handed: 4) == .invalid("sent an unknown confirmation"))
        #expect(KeptSocketsMessage.decode(Array(message.dropLast()), handed: 301) == .invalid("sent a confirmation of the wrong length"))
        #expect(KeptSocketsMessage.encode([]) == [UInt8(ascii: "K"), 0, 0])
        #expect(KeptSocketsMessage.encode([70_000]) == nil, "16 bits cannot name it: nothing is confirmed")
        #expect(KeptSocketsMessage.encode(Array(repeating: 0, count: 70_000)) == nil)
    }
}
