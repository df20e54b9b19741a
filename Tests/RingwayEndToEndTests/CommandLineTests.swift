import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The binary as users run it: arguments, errors, logs, signals.
@Suite("ringway command line")
struct CommandLineTests {
    @Test func helpShowsTheURLGrammarWithExamples() throws {
        let (status, stdout, _) = try runRingway(["--help"])
        #expect(status == 0)
        #expect(stdout.contains("tcp://[HOST]:PORT/TARGET:PORT"))
        #expect(stdout.contains("whoami://"))
        #expect(stdout.contains("EXAMPLES"))
        #expect(stdout.contains("handler.proxyProtocol"))
    }

    @Test func versionPrintsTheVersion() throws {
        let (status, stdout, _) = try runRingway(["--version"])
        #expect(status == 0)
        #expect(stdout.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil)
    }

    struct BadCommandLine: CustomTestStringConvertible, Sendable {
        let arguments: [String]
        /// The whole line starts with this: `ringway: `, then the bad part.
        let begins: String
        let mentions: String
        var testDescription: String { arguments.joined(separator: " ") }
    }

    static let badCommandLines = [
        BadCommandLine(arguments: [], begins: "ringway: no service given", mentions: "-L"),
        BadCommandLine(arguments: ["-L", "tcp://:99999/127.0.0.1:80"], begins: "ringway: -L \"tcp://:99999/127.0.0.1:80\": ", mentions: "99999"),
        BadCommandLine(arguments: ["-L", "bogus://:8080/127.0.0.1:80"], begins: "ringway: -L \"bogus://", mentions: "bogus"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80?proxyProtocol=3"], begins: "ringway: -L \"", mentions: "proxyProtocol"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80?nosuchkey=1"], begins: "ringway: -L \"", mentions: "nosuchkey"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80?trustedProxies=10.0.0.0/33"], begins: "ringway: -L \"", mentions: "10.0.0.0/33"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80?proxyProtocolTimeout=5x"], begins: "ringway: -L \"", mentions: "5x"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/no-such-host.invalid:80"], begins: "ringway: -L \"tcp://:8080/no-such-host.invalid:80\": ", mentions: "does not resolve"),
        BadCommandLine(
            arguments: ["-L", "tcp://:8080/127.0.0.1:80", "-L", "tcp://:8080/127.0.0.1:81"],
            begins: "ringway: -L \"tcp://:8080/127.0.0.1:81\": ", mentions: "listens on the same port as -L \"tcp://:8080/127.0.0.1:80\""),
        BadCommandLine(arguments: ["-L", "whoami://:8080", "-F", "forward://127.0.0.1:1"], begins: "ringway: -F \"forward://127.0.0.1:1\": ", mentions: "no service uses it"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--workers", "0"], begins: "ringway: --workers: ", mentions: "workers"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--workers"], begins: "ringway: --workers: missing value", mentions: "<workers>"),
        BadCommandLine(arguments: ["-L"], begins: "ringway: -L: missing value", mentions: "<url>"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--frobnicate"], begins: "ringway: --frobnicate: unknown option", mentions: "--help"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--log-level", "loud"], begins: "ringway: --log-level: ", mentions: "loud"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--drain-timeout", "-1s"], begins: "ringway: --drain-timeout: ", mentions: "0s or more"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--drain-timeout", "soon"], begins: "ringway: --drain-timeout \"soon\": ", mentions: "duration"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers", "1000"], begins: "ringway: --buffers 1000: ", mentions: "power of two"),
        // The ranges the README's option table gives, one past each end.
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers", "0"], begins: "ringway: --buffers 0: ", mentions: "from 1 to 32768"),
        BadCommandLine(
            arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--handover-socket", "/tmp/" + String(repeating: "x", count: 90)],
            begins: "ringway: --handover-socket /tmp/", mentions: "1 to 90 bytes"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers", "65536"], begins: "ringway: --buffers 65536: ", mentions: "from 1 to 32768"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers", "3"], begins: "ringway: --buffers 3: ", mentions: "power of two"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffer-size", "1023"], begins: "ringway: --buffer-size 1023: ", mentions: "between 1024 and 4194304"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffer-size", "4194305"], begins: "ringway: --buffer-size 4194305: ", mentions: "between 1024 and 4194304"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers-per-direction", "0"], begins: "ringway: --buffers-per-direction 0: ", mentions: "between 1 and 6"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--buffers-per-direction", "7"], begins: "ringway: --buffers-per-direction 7: ", mentions: "between 1 and 6"),
        BadCommandLine(arguments: ["-L", "tcp://:8080/127.0.0.1:80", "--workers", "1025"], begins: "ringway: --workers: ", mentions: "from 1 to 1024"),
    ]

    @Test(arguments: badCommandLines)
    func badCommandLinesExitWithOneLineNamingTheProblem(_ bad: BadCommandLine) throws {
        // A bad command line exits at once; one that is wrongly accepted starts the relay, which
        // is stopped after 10 s (exit 0, so the row fails) instead of hanging the run.
        let (status, _, stderr) = try runRingway(bad.arguments, seconds: 10)
        #expect(status == 2)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one line, got: \(stderr)")
        #expect(stderr.hasPrefix(bad.begins), "\(stderr)")
        #expect(stderr.contains(bad.mentions), "\(stderr)")
        #expect(!stderr.contains("Fatal error") && !stderr.contains("Stack"))
    }

    /// Both ends of the README's ranges for the buffer options are accepted: the relay starts.
    @Test(arguments: [
        ["--buffers", "1", "--buffer-size", "1024", "--buffers-per-direction", "1"],
        ["--buffers", "32768", "--buffer-size", "4194304", "--buffers-per-direction", "6"],
    ])
    func theEndsOfTheBufferRangesAreAccepted(_ options: [String]) throws {
        let port = try freePort()
        let ringway = try RingwayProcess(["--workers", "1"] + options + ["-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 1, seconds: 5), "\(ringway.lines)")
    }

    /// Like the keys, --drain-timeout takes a bare number of seconds.
    @Test func drainTimeoutTakesBareSeconds() throws {
        let port = try freePort()
        let ringway = try RingwayProcess(["--drain-timeout", "5", "-L", "whoami://127.0.0.1:\(port)"])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
    }

    @Test func anAddressInUseIsOneClearLine() throws {
        let (listener, port) = try Sockets.listen()
        defer { close(listener) }
        // A plain socket (no SO_REUSEPORT) holds the port: ringway's bind must fail cleanly.
        let (status, _, stderr) = try runRingway(["-L", "tcp://127.0.0.1:\(port)/127.0.0.1:9"])
        #expect(status == 1, "the engine could not start: status 1, not a usage error's 2")
        #expect(stderr.split(separator: "\n").count == 1)
        #expect(stderr.contains("\(port)") && stderr.contains("EADDRINUSE"), "\(stderr)")
    }

    @Test func twoServicesInOneProcessWithTwoWorkers() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let first = try freePort()
        let second = try freePort()
        let ringway = try RingwayProcess([
            "--workers", "2",
            "-L", "tcp://127.0.0.1:\(first)/127.0.0.1:\(echo.port)",
            "-L", "tcp://127.0.0.1:\(second)/127.0.0.1:\(echo.port)",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        #expect(ringway.lines.contains { $0.contains("\"workers\":2") })
        for (index, port) in [first, second, first, second].enumerated() {
            let client = try Sockets.connect(port: port)
            defer { close(client) }
            try Sockets.sendAll(client, "hello \(index)")
            shutdown(client, Int32(SHUT_WR))
            #expect(String(decoding: try Sockets.receiveAll(client), as: UTF8.self) == "hello \(index)")
        }
        // Connections of both services show up under their GOST names.
        #expect(ringway.waitForLine(containing: ["\"service\":\"service-0\"", ">< "]) != nil)
        #expect(ringway.waitForLine(containing: ["\"service\":\"service-1\"", ">< "]) != nil)
    }

    @Test func everyLogLineIsOneJSONObjectWithGOSTsFields() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        #expect(ringway.waitUntilListening(services: 1))
        let client = try Sockets.connect(port: port)
        try Sockets.sendAll(client, "12345")
        shutdown(client, Int32(SHUT_WR))
        _ = try Sockets.receiveAll(client)
        close(client)
        let closeLine = try #require(ringway.waitForLine(containing: [" >< "]))
        for line in ringway.lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            #expect(object?["level"] is String && object?["msg"] is String && object?["time"] is String)
        }
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(closeLine.utf8)) as? [String: Any])
        for key in ["client", "remote", "local", "service", "handler", "listener", "kind", "level", "msg", "sid"] {
            #expect(fields[key] != nil, "missing \(key) in \(closeLine)")
        }
        #expect(fields["inputBytes"] as? Int == 5)
        #expect(fields["outputBytes"] as? Int == 5)
        #expect((fields["duration"] as? Int ?? 0) > 0, "duration in nanoseconds")
    }

    @Test func sigtermDrainsTransfersInFlightThenExits() throws {
        let upstream = try ScriptedUpstream { fd, _ in
            // Answers slowly, so the transfer is still running when SIGTERM arrives.
            let chunk = [UInt8](repeating: 0x42, count: 100_000)
            for _ in 0..<10 {
                try? Sockets.sendAll(fd, chunk)
                usleep(100_000)
            }
            shutdown(fd, Int32(SHUT_WR))
            _ = try? Sockets.receiveAll(fd)
            close(fd)
        }
        defer { upstream.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(upstream.port)"])
        #expect(ringway.waitUntilListening(services: 1))
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        _ = try Sockets.receive(client, exactly: 100_000)
        ringway.signal(SIGTERM)
        #expect(ringway.waitForLine(containing: ["draining"]) != nil)
        // New clients are refused while the old one finishes (one arriving in the instant
        // before the listener closes is still served; close it so it does not hold the drain).
        #expect(refusesConnections(port: port))
        let rest = try Sockets.receiveAll(client)
        #expect(rest.count == 900_000, "the transfer in flight completed")
        shutdown(client, Int32(SHUT_WR))
        #expect(ringway.waitForExit() == 0)
    }

    /// Sockets are closed on the ring after their last request completes; none may stay open.
    @Test func finishedConnectionsGiveTheirDescriptorsBack() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess(["--workers", "1", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        let pid = ringway.process.processIdentifier
        let before = ProcessProbe.openDescriptors(of: pid)
        for index in 0..<100 {
            let client = try Sockets.connect(port: port)
            defer { close(client) }
            try Sockets.sendAll(client, "hello \(index)")
            shutdown(client, Int32(SHUT_WR))
            #expect(String(decoding: try Sockets.receiveAll(client), as: UTF8.self) == "hello \(index)")
        }
        #expect(before > 0)
        #expect(becomesTrue(within: 3) { ProcessProbe.openDescriptors(of: pid) == before },
                "now \(ProcessProbe.openDescriptors(of: pid))")
    }

    @Test func runningOutOfDescriptorsPausesAcceptingAndRecovers() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (port, metrics) = (try freePort(), try freePort())
        let ringway = try RingwayProcess(
            ["--workers", "1", "--metrics", "127.0.0.1:\(metrics)", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"],
            shellPrefix: "ulimit -n 48")
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        // More clients than descriptors: the relay must pause accepting, not spin or die.
        var clients: [Int32] = []
        for _ in 0..<40 { clients.append(try Sockets.connect(port: port)) }
        #expect(ringway.waitForLine(containing: ["accept paused"]) != nil, "\(ringway.lines.suffix(3))")
        #expect(ringway.process.isRunning)
        for client in clients { close(client) }
        // Once descriptors are free again, a new client is served.
        var served = false
        for _ in 0..<50 where !served {
            let client = try Sockets.connect(port: port)
            try Sockets.sendAll(client, "ping")
            shutdown(client, Int32(SHUT_WR))
            served = (try? Sockets.receiveAll(client)) == Array("ping".utf8)
            close(client)
            if !served { usleep(100_000) }
        }
        #expect(served)
        // Whichever ran out first, an accept or an upstream socket, accepting paused.
        let service = "{service=\"service-0\"}"
        #expect((ProcessProbe.metric("ringway_accept_pauses_total" + service, port: metrics) ?? 0) > 0)
        let acceptErrors = ProcessProbe.metric("ringway_accept_errors_total" + service, port: metrics) ?? 0
        let unavailable = ProcessProbe.metric(
            "ringway_connections_closed_by_reason_total{service=\"service-0\",reason=\"upstream_unavailable\"}", port: metrics) ?? 0
        #expect(acceptErrors + unavailable > 0)
    }
}

/// Whether connecting to `port` starts failing within `seconds`.
func refusesConnections(port: UInt16, seconds: Double = 3) -> Bool {
    becomesTrue(within: seconds, interval: 20_000) {
        guard let fd = try? Sockets.connect(port: port, timeoutSeconds: 1) else { return true }
        close(fd)
        return false
    }
}
