import Foundation
import Glibc
import ProxyProtocol
import RingwayTestSupport
import Testing

/// README, Scaling out, on one machine: HAProxy (`mode tcp`, `balance roundrobin`,
/// `send-proxy-v2`, `check inter 200ms`) in front of three Ringway instances, each receiving
/// PROXY v2 from HAProxy only (`trustedProxies=127.0.0.1/32`) and sending PROXY v2 to a backend
/// of its own that answers with the client address it was told. Clients connect from 127.0.0.7,
/// so the real client is told apart from HAProxy's 127.0.0.1. In a network namespace of the
/// test's own; the replacements hand their sockets over (`--handover-socket`), with
/// `net.ipv4.tcp_migrate_req` left at 0.
@Suite("Scale-out behind HAProxy", .serialized)
struct ScaleOutTests {
    static let unavailable: String? = {
        if Peer.haproxy == nil { return "haproxy is not installed (scripts/setup --peers installs it)" }
        return NetworkNamespace.unavailableReason
    }()
    static let frontPort: UInt16 = 20_000
    static let instancePorts: [UInt16] = [20_001, 20_002, 20_003]
    static let client = IPAddress.v4(IPv4Address(127, 0, 0, 7))

    /// A backend for instance `tag`: reads the PROXY v2 header Ringway sends, answers
    /// "TAG SOURCE\n" with the source it names, then echoes.
    static func recordingBackend(tag: String) -> @Sendable (Int32) -> Void {
        { fd in
            defer { close(fd) }
            guard let start = try? Sockets.receive(fd, exactly: 16) else { return }
            let length = Int(start[14]) << 8 | Int(start[15])
            guard let rest = try? Sockets.receive(fd, exactly: length),
                let header = IndependentProxyDecoder.decode(start + rest), header.version == 2
            else {
                try? Sockets.sendAll(fd, "\(tag) no-v2-header\n")
                return
            }
            guard (try? Sockets.sendAll(fd, "\(tag) \(header.source ?? "none")\n")) != nil else { return }
            PooledUpstream.echo(dup(fd))
        }
    }

    /// One request: "ping", the backend's line, the echo. The line must name this very client
    /// (127.0.0.7 and its port) through both hops; returns the instance that relayed it.
    static let exchange: @Sendable (Int32, UInt8) throws -> String? = { fd, _ in
        try Sockets.sendAll(fd, "ping")
        let line = try readLine(fd)
        let fields = line.split(separator: " ")
        let own = "127.0.0.7:\(try Sockets.localPort(fd))"
        guard fields.count == 2, fields[1] == own else {
            throw SocketError(what: "the backend saw \"\(line)\", the client is \(own)", code: 0)
        }
        guard try Sockets.receive(fd, exactly: 4) == Array("ping".utf8) else { throw SocketError(what: "echo differs", code: 0) }
        return String(fields[0])
    }

    static func readLine(_ fd: Int32) throws -> String {
        var line: [UInt8] = []
        while line.last != 0x0A {
            guard line.count < 200 else { throw SocketError(what: "no line end", code: 0) }
            line += try Sockets.receive(fd, exactly: 1)
        }
        return String(decoding: line.dropLast(), as: UTF8.self)
    }

    /// An instance: PROXY v2 in from HAProxy only, PROXY v2 out to its backend, and a handover
    /// socket of its own for its replacement.
    static func instanceArguments(port: UInt16, backend: UInt16, handover: String) -> [String] {
        [
            "--workers", "1", "--log-level", "warn", "--handover-socket", handover, "-L",
            "tcp://127.0.0.1:\(port)/127.0.0.1:\(backend)?proxyProtocol=1&trustedProxies=127.0.0.1/32&handler.proxyProtocol=2",
        ]
    }

    static let haproxyConfig = """
        global
          nbthread 1
          maxconn 4096
        defaults
          mode tcp
          timeout connect 1s
          timeout client 10s
          timeout server 10s
          retries 2
          option redispatch 1
        frontend front
          bind 127.0.0.1:\(frontPort)
          default_backend relays
        backend relays
          balance roundrobin
        \(instancePorts.enumerated().map { "  server r\($0.offset) 127.0.0.1:\($0.element) send-proxy-v2 check inter 200ms" }.joined(separator: "\n"))
        """

    @Test(.disabled(if: unavailable != nil && !Peer.required, "\(unavailable ?? "")"))
    func clientAddressesRollingReplacementAndAKilledInstance() throws {
        // tcp_migrate_req stays 0: the replacements hand their sockets over.
        let namespace = try NetworkNamespace(migrateQueuedConnections: false)
        // A backend thread serves one connection until it ends: enough for every connection held
        // below (up to 30, possibly most on one instance) beside the client loop's. With 8, a
        // backend whose threads all served held connections stalled the loop until HAProxy's
        // 10 s timeouts closed the held connections too.
        let backends = try (0..<3).map { index in
            try namespace.perform { try PooledUpstream(threads: 40, niceness: ZeroLossReplacementTests.niceness, Self.recordingBackend(tag: "r\(index)")) }
        }
        defer { backends.forEach { $0.stop() } }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-scaleout-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func arguments(_ index: Int) -> [String] {
            Self.instanceArguments(
                port: Self.instancePorts[index], backend: backends[index].port,
                handover: directory.appendingPathComponent("r\(index).sock").path)
        }
        var instances = try (0..<3).map { index in
            try RingwayProcess.listening(arguments(index), namespace: namespace, port: Self.instancePorts[index], sockets: 1, niceness: ZeroLossReplacementTests.niceness)
        }
        let haproxy = try PeerProcess(executable: NetworkNamespace.nsenter!, config: Self.haproxyConfig, configName: "haproxy.cfg") {
            ["--net=\(namespace.path)", "--", Peer.haproxy!, "-f", $0, "-db"]
        }
        #expect(try namespace.perform { waitForListener(Self.frontPort) }, "haproxy did not start: \(haproxy.output)")
        let started = monotonicSeconds()
        let churn = ConnectionChurn(
            port: Self.frontPort, threads: 4, namespace: namespace, from: Self.client, niceness: ZeroLossReplacementTests.niceness, exchange: Self.exchange)
        defer { churn.stop() }

        // 1. Every answer names 127.0.0.7 and the client's port (the exchange checks it), and
        // round robin reaches all three instances.
        #expect(churn.waitForProgress(600), "\(churn.failureSummary)")
        #expect(churn.notes.keys.sorted() == ["r0", "r1", "r2"], "\(churn.notes)")
        #expect(churn.failures.isEmpty, "\(churn.failureSummary)")

        // 2. Rolling replacement: a new process takes over each instance's socket, then SIGTERM to the old one.
        let beforeRolling = churn.completedCount
        for index in 0..<3 {
            let next = try RingwayProcess.listening(arguments(index), namespace: namespace, port: Self.instancePorts[index], sockets: 1, niceness: ZeroLossReplacementTests.niceness)
            let port = Self.instancePorts[index]
            #expect(ProcessProbe.listeningSocketInodes(of: next.process.processIdentifier, port: port)
                == ProcessProbe.listeningSocketInodes(of: instances[index].process.processIdentifier, port: port), "the socket handed over")
            instances[index].signal(SIGTERM)
            #expect(churn.waitForProgress(300), "\(churn.failureSummary)")
            #expect(instances[index].waitForExit(seconds: 30) == 0, "instance \(index) did not drain and exit")
            instances[index] = next
        }
        let rolled = churn.completedCount - beforeRolling
        #expect(churn.failures.isEmpty, "rolling replacement: \(churn.failureSummary)")

        // 3. kill -9 of r1: it fails only the connections it held; HAProxy's checks mark it down.
        // Held connections: at least two on r1 and two elsewhere (round robin is shared with
        // the client loop, so which instance a new connection gets is not known in advance).
        var held: [(fd: Int32, tag: String)] = []
        defer { held.forEach { close($0.fd) } }
        while held.count < 30, held.filter({ $0.tag == "r1" }).count < 2 || held.filter({ $0.tag != "r1" }).count < 2 {
            held.append(try namespace.perform {
                let fd = try Sockets.connect(port: Self.frontPort, from: Self.client, timeoutSeconds: 5)
                return (fd, try Self.exchange(fd, 0) ?? "")
            })
        }
        let answeredBeforeKill = churn.notes
        let haproxyProcess = haproxy.process.processIdentifier
        let killedAt = monotonicSeconds()
        instances[1].signal(SIGKILL)
        // The kernel closes a killed process's sockets once its io_uring is torn down, a moment
        // after the kill: clients it queued until then were its own, and fail with it.
        let listenerGone = waitFor(seconds: 5, interval: 500) {
            ProcessProbe.listens(port: Self.instancePorts[1], inNamespaceOf: haproxyProcess) ? nil : monotonicSeconds()
        }
        let down = waitFor(seconds: 5, interval: 2_000) { haproxy.output.contains("relays/r1 is DOWN") ? monotonicSeconds() : nil }
        #expect(listenerGone != nil, "r1's port still listens")
        #expect(down != nil, "HAProxy never marked r1 down: \(haproxy.output.suffix(500))")
        #expect(churn.waitForProgress(600), "\(churn.failureSummary)")
        churn.stop()
        var failedOnR1 = 0
        var failedElsewhere = 0
        for connection in held {
            let echoed = Result { () throws -> [UInt8] in
                try Sockets.sendAll(connection.fd, "more")
                return try Sockets.receive(connection.fd, exactly: 4)
            }
            if (try? echoed.get()) != Array("more".utf8) {
                if connection.tag == "r1" { failedOnR1 += 1 } else { failedElsewhere += 1 }
            }
            if connection.tag == "r1" {
                #expect(throws: (any Error).self, "a connection r1 held fails") { try echoed.get() }
            } else {
                #expect((try? echoed.get()) == Array("more".utf8), "a connection \(connection.tag) held goes on: \(echoed)")
            }
            close(connection.fd)
        }
        let heldOnR1 = held.filter { $0.tag == "r1" }.count
        let heldCount = held.count
        held = []
        let gone = listenerGone ?? killedAt
        let late = churn.failures.filter { $0.started >= gone }
        #expect(late.isEmpty, "connections begun after r1's port closed failed: \(late.prefix(3))")
        let answeredByR1AfterKill = (churn.notes["r1"] ?? 0) - (answeredBeforeKill["r1"] ?? 0)
        let seconds = monotonicSeconds() - started
        func milliseconds(_ time: Double?) -> String { time.map { String(format: "%.0f ms", ($0 - killedAt) * 1000) } ?? "never" }
        print("scale-out: \(churn.completedCount) requests in \(String(format: "%.1f", seconds)) s through HAProxy and 3 instances "
            + "(\(churn.notes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))), every one "
            + "answered with its own 127.0.0.7 address; rolling replacement: \(rolled) requests, 0 failed; kill -9 of r1: "
            + "its port closed after \(milliseconds(listenerGone)), \(churn.failures.count) requests failed "
            + "(\(churn.failures.filter { $0.started < killedAt }.count) begun before the kill), \(failedOnR1) of its \(heldOnR1) "
            + "held connections failed and \(failedElsewhere) of the \(heldCount - heldOnR1) held elsewhere; marked DOWN after "
            + "\(milliseconds(down)); answered by r1 after the kill: \(answeredByR1AfterKill)")
        for instance in instances where instance.process.isRunning { instance.signal(SIGTERM) }
        for (index, instance) in instances.enumerated() where index != 1 { #expect(instance.waitForExit() == 0) }
    }
}
