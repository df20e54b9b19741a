import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// contrib/systemd/ringway.service, checked as far as a machine whose PID 1 is not systemd
/// allows: systemd's own parser accepts it, its system call filter (as systemd resolves the
/// groups) keeps io_uring and every system call Ringway makes through start-up, relaying,
/// metrics, a reload and a drain, and Ringway runs under the kernel's form of
/// MemoryDenyWriteExecute. Starting the unit for real needs systemd as PID 1: not done here.
@Suite("systemd unit file", .serialized)
struct SystemdUnitTests {
    static let unitPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("contrib/systemd/ringway.service")
    static let installedBinary = "/usr/local/bin/ringway"
    static let analyzeMissing = Peer.systemdAnalyze == nil
    static let straceMissing = Peer.systemdAnalyze == nil || Peer.strace == nil
    static let pythonMissing = Peer.python3 == nil

    /// `command arguments...`: exit status and stdout+stderr together.
    func run(_ command: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runToCompletion(command, arguments)
    }

    /// The values of every `Key=` line of the unit, in order.
    static func values(of key: String) throws -> [String] {
        try String(contentsOf: unitPath, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix(key + "=") }.map { String($0.dropFirst(key.count + 1)) }
    }

    @Test(.disabled(if: analyzeMissing, "systemd-analyze is not installed (scripts/setup --peers installs systemd)"))
    func systemdAnalyzeVerifiesTheUnit() throws {
        // verify insists that ExecStart's binary exists: the copy checked is the unit as
        // shipped with /usr/local/bin/ringway replaced by the binary under test, nothing else.
        let original = try String(contentsOf: Self.unitPath, encoding: .utf8)
        #expect(try Self.values(of: "ExecStart") == ["\(Self.installedBinary) -C /etc/ringway/ringway.yaml"])
        let copy = original.replacingOccurrences(of: Self.installedBinary, with: RingwayBinary.path)
        #expect(copy.split(separator: "\n").count == original.split(separator: "\n").count)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-unit-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let unit = directory.appendingPathComponent("ringway.service")
        try copy.write(to: unit, atomically: true, encoding: .utf8)
        let (status, output) = try run(Peer.systemdAnalyze!, ["verify", unit.path])
        // verify exits 0 on unknown keys and groups, and only says so: any word from it fails.
        #expect(status == 0 && output.isEmpty, "systemd-analyze verify (\(status)): \(output)")
    }

    /// The system calls the unit's SystemCallFilter= lines allow, groups resolved by
    /// `systemd-analyze syscall-filter` (the first line an allow list, `~` lines taken away).
    func allowedSystemCalls() throws -> Set<String> {
        let (status, listing) = try run(Peer.systemdAnalyze!, ["syscall-filter"])
        #expect(status == 0)
        var groups: [String: [String]] = [:]
        var current: String?
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false) {
            let entry = line.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("@") {
                current = entry
                groups[entry] = []
            } else if let group = current, !entry.isEmpty, !entry.hasPrefix("#") {
                groups[group]?.append(entry)
            } else if entry.isEmpty {
                current = nil
            }
        }
        func expand(_ name: String, _ seen: Set<String> = []) -> Set<String> {
            guard name.hasPrefix("@") else { return [name] }
            guard !seen.contains(name), let members = groups[name] else { return [] }
            return members.reduce(into: Set<String>()) { $0.formUnion(expand($1, seen.union([name]))) }
        }
        let lines = try Self.values(of: "SystemCallFilter")
        #expect(lines.first.map { !$0.hasPrefix("~") } == true, "the first SystemCallFilter= must be an allow list: \(lines)")
        var allowed = Set<String>()
        for line in lines {
            let denied = line.hasPrefix("~")
            let names = line.dropFirst(denied ? 1 : 0).split(separator: " ").map(String.init)
            for name in names {
                #expect(!name.hasPrefix("@") || groups[name] != nil, "systemd-analyze does not know \(name)")
                let calls = expand(name)
                if denied { allowed.subtract(calls) } else { allowed.formUnion(calls) }
            }
        }
        return allowed
    }

    @Test(.disabled(if: analyzeMissing, "systemd-analyze is not installed (scripts/setup --peers installs systemd)"))
    func theSystemCallFilterKeepsIoUring() throws {
        let allowed = try allowedSystemCalls()
        #expect(allowed.count > 200, "the filter resolved to \(allowed.count) calls")
        let missing = ["io_uring_setup", "io_uring_enter", "io_uring_register"].filter { !allowed.contains($0) }
        #expect(missing.isEmpty, "not allowed by the unit's SystemCallFilter: \(missing)")
        let deniedButAllowed = ["setuid", "setrlimit"].filter { allowed.contains($0) }
        #expect(deniedButAllowed.isEmpty, "@privileged and @resources should be denied: \(deniedButAllowed)")
    }

    /// One of each thing the relay does, with the process started through `launcher`: start-up
    /// from a file with a metrics endpoint, a relayed connection, a scrape, a reload that adds a
    /// service, and a drain. `signal` reaches the relay itself (not a launcher in between).
    func exercise(launcher: [String], signal: (RingwayProcess, Int32) -> Void) throws -> RingwayProcess {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let ports = try freePorts(3)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-unit-run-\(getpid())-\(ports[0])")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("ringway.yaml")
        func configuration(_ services: [UInt16]) -> String {
            services.enumerated().map { "- name: s\($0.offset)\n  addr: 127.0.0.1:\($0.element)\n  handler:\n    type: tcp\n"
                + "  forwarder:\n    nodes:\n    - addr: 127.0.0.1:\(echo.port)\n" }.joined()
        }
        try ("services:\n" + configuration([ports[0]]) + "metrics:\n  addr: 127.0.0.1:\(ports[2])\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let ringway = try RingwayProcess(["-C", file.path, "--workers", "2"], launcher: launcher)
        #expect(ringway.waitUntilListening(services: 2, seconds: 30), "\(ringway.lines)")
        func echoes(_ port: UInt16) -> Bool {
            guard let fd = try? Sockets.connect(port: port) else { return false }
            defer { close(fd) }
            return (try? Sockets.sendAll(fd, "x")) != nil && (try? Sockets.receive(fd, exactly: 1)) == [UInt8(ascii: "x")]
        }
        #expect(echoes(ports[0]))
        #expect(ProcessProbe.scrape(port: ports[2]).contains("ringway_connections_accepted_total"))
        try ("services:\n" + configuration([ports[0], ports[1]]) + "metrics:\n  addr: 127.0.0.1:\(ports[2])\n")
            .write(to: file, atomically: true, encoding: .utf8)
        signal(ringway, SIGHUP)
        #expect(ringway.waitForLine(containing: ["reloaded: 1 added"], seconds: 20) != nil, "\(ringway.lines)")
        #expect(echoes(ports[1]))
        signal(ringway, SIGTERM)
        #expect(ringway.waitForExit(seconds: 30) == 0, "\(ringway.lines)")
        return ringway
    }

    /// strace's view of every system call the relay and its threads made, checked against the
    /// filter. (What goes through the ring is not a system call and is not filtered.)
    @Test(.disabled(if: straceMissing, "strace or systemd-analyze is not installed (scripts/setup --peers installs them)"))
    func everySystemCallRingwayMakesIsAllowedByTheFilter() throws {
        let allowed = try allowedSystemCalls()
        let trace = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-strace-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: trace) }
        _ = try exercise(launcher: [Peer.strace!, "-f", "-qq", "-o", trace.path]) { ringway, number in
            // strace runs the relay as its child: the signal goes to the child.
            let parent = ringway.process.processIdentifier
            let children = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
            if let child = children.split(separator: " ").first.flatMap({ Int32($0) }) { kill(child, number) }
        }
        let pattern = try NSRegularExpression(pattern: "^\\d+ +([a-z0-9_]+)\\(", options: .anchorsMatchLines)
        let text = try String(contentsOf: trace, encoding: .utf8)
        let made = Set(pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        })
        #expect(made.contains("io_uring_setup") && made.contains("io_uring_enter"), "strace saw: \(made.sorted())")
        #expect(made.subtracting(allowed).isEmpty, "made but not allowed: \(made.subtracting(allowed).sorted())")
    }

    /// MemoryDenyWriteExecute=yes: the kernel's PR_SET_MDWE (Linux 6.3+) refuses the same
    /// writable-and-executable mappings; set before exec, it holds for the relay.
    @Test(.disabled(if: pythonMissing, "python3 is not installed"))
    func ringwayRunsWithWritableExecutableMemoryRefused() throws {
        let probe = try run(Peer.python3!, ["-c", "import ctypes; print(ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0))"])
        guard probe.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0" else {
            print("skipped: this kernel has no PR_SET_MDWE (Linux 6.3+): \(probe.output)")
            return
        }
        let wrapper = "import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            + "if libc.prctl(65, 1, 0, 0, 0) != 0: sys.exit('PR_SET_MDWE failed')\n"
            + "if libc.prctl(66, 0, 0, 0, 0) != 1: sys.exit('PR_GET_MDWE is not set')\n"
            + "os.execv(sys.argv[1], sys.argv[1:])\n"
        let ringway = try exercise(launcher: [Peer.python3!, "-c", wrapper]) { ringway, number in ringway.signal(number) }
        #expect(!ringway.lines.contains { $0.contains("PR_SET_MDWE") }, "\(ringway.lines)")
    }
}
