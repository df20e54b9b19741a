import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// contrib/container/seccomp-ringway.json: well-formed, allows io_uring unconditionally, is still
/// the Docker default profile the README names (commit and SHA-256), and Ringway runs under it,
/// applied as Docker applies it (but not without the io_uring syscalls).
@Suite("Seccomp profile (contrib/container)")
struct SeccompProfileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let profilePath = root.appendingPathComponent("contrib/container/seccomp-ringway.json").path
    static let ioUring: Set<String> = ["io_uring_setup", "io_uring_enter", "io_uring_register"]

    static func profile() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: profilePath))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object")
    }

    static func rules(_ profile: [String: Any]) throws -> [[String: Any]] {
        try #require(profile["syscalls"] as? [[String: Any]], "no syscalls array")
    }

    @Test func deniesByDefaultAndAllowsIoUringWithoutConditions() throws {
        let profile = try Self.profile()
        #expect(profile["defaultAction"] as? String == "SCMP_ACT_ERRNO")
        #expect(profile["defaultErrnoRet"] as? Int == 1)
        let rules = try Self.rules(profile)
        // A rule with arguments, includes (caps, arches, kernel) or excludes applies only sometimes.
        let unconditional = rules.filter { rule in
            rule["action"] as? String == "SCMP_ACT_ALLOW" && rule["args"] == nil && rule["includes"] == nil
                && rule["excludes"] == nil
        }
        let allowed = Set(unconditional.flatMap { $0["names"] as? [String] ?? [] })
        #expect(Self.ioUring.isSubset(of: allowed), "not allowed unconditionally: \(Self.ioUring.subtracting(allowed))")
        // No other rule names them (a later ERRNO rule would win in some runtimes).
        let conditional = rules.filter { rule in !unconditional.contains { NSDictionary(dictionary: $0).isEqual(to: rule) } }
        let named = conditional.flatMap { $0["names"] as? [String] ?? [] }
        #expect(Self.ioUring.isDisjoint(with: named), "\(named.filter(Self.ioUring.contains))")
    }

    /// The file is moby/moby's profile of the commit the README names, byte for byte: its SHA-256
    /// is the README's. Its shape is that profile's: 8 architectures, 31 rules, 349 syscalls
    /// allowed without conditions.
    @Test func isTheDockerProfileTheReadmeNames() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let recorded = try #require(
            readme.components(separatedBy: "seccomp-ringway.json").dropFirst().compactMap { text -> String? in
                guard let range = text.range(of: "SHA-256 `") else { return nil }
                return String(text[range.upperBound...].prefix(64))
            }.first, "README names no SHA-256 for seccomp-ringway.json")
        #expect(readme.contains("profiles/seccomp/default.json` at commit `00f3d189e420d485e42d15fe494f96d272284e0e`"))
        #expect(try Self.sha256(of: Self.profilePath) == recorded)

        let profile = try Self.profile()
        let architectures = (profile["archMap"] as? [[String: Any]] ?? []).compactMap { $0["architecture"] as? String }
        #expect(architectures == [
            "SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL64",
            "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64",
        ])
        let rules = try Self.rules(profile)
        #expect(rules.count == 31)
        #expect((rules.first?["names"] as? [String])?.count == 349)
    }

    /// Ringway (the static binary when scripts/test built it) under the profile as Docker applies
    /// it (scripts/seccomp-exec): it relays, serves metrics, reloads and drains.
    @Test(.disabled(if: SeccompExec.missing, "python3-seccomp is not installed (scripts/setup --peers installs it)"))
    func ringwayRunsUnderTheProfile() throws {
        let upstream = try ScriptedUpstream.echo()
        defer { upstream.stop() }
        let (front, metrics) = (try freePort(), try freePort())
        let ringway = try SeccompExec.start(without: [], [
            "-L", "tcp://127.0.0.1:\(front)/127.0.0.1:\(upstream.port)", "--metrics", "127.0.0.1:\(metrics)", "--workers", "2",
        ])
        #expect(ringway.waitUntilListening(services: 2), "\(ringway.lines)")
        #expect(SeccompExec.filterMode(of: ringway.process.processIdentifier) == "2", "no seccomp filter on ringway")

        let client = try Sockets.connect(port: front, timeoutSeconds: 5)
        defer { close(client) }
        let payload = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Sockets.sendAll(client, payload)
        shutdown(client, Int32(SHUT_WR))
        #expect(try Sockets.receiveAll(client) == payload)
        #expect(ProcessProbe.scrape(port: metrics).contains("ringway_connections_accepted_total"))
        ringway.signal(SIGHUP)
        #expect(ringway.waitForLine(containing: ["\"kind\":\"config\"", "reloaded"]) != nil, "\(ringway.lines)")
        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0, "\(ringway.lines)")
    }

    /// The same profile without the three syscalls (Docker's current default in this respect):
    /// ringway cannot create its rings and says why.
    @Test(.disabled(if: SeccompExec.missing, "python3-seccomp is not installed (scripts/setup --peers installs it)"))
    func withoutTheIoUringSyscallsRingwayStopsWithAMessage() throws {
        let ringway = try SeccompExec.start(without: Self.ioUring, ["-L", "tcp://127.0.0.1:\(try freePort())/127.0.0.1:9"])
        #expect(ringway.waitForExit() == 1, "\(ringway.lines)")
        #expect(ringway.lines.first { $0.hasPrefix("ringway: io_uring is not permitted here (EPERM)") && $0.contains("seccomp") } != nil, "\(ringway.lines)")
    }

    static func sha256(of path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return String(text.prefix(64))
    }
}

/// scripts/seccomp-exec: a command under a Docker-format profile, without a container engine.
enum SeccompExec {
    static let script = SeccompProfileTests.root.appendingPathComponent("scripts/seccomp-exec").path

    /// Debian's python3-seccomp for /usr/bin/python3 (the script's interpreter).
    static var installed: Bool {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        probe.arguments = ["-c", "import seccomp"]
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }

    static var missing: Bool { !installed && !Peer.required }

    /// The static binary when scripts/test built one (what the image runs), else the release one.
    static var binary: String {
        let path = ProcessInfo.processInfo.environment["RINGWAY_STATIC_BINARY"] ?? ""
        return path.isEmpty ? RingwayBinary.path : path
    }

    static func start(without: Set<String>, _ arguments: [String]) throws -> RingwayProcess {
        let options = without.isEmpty ? [] : ["--without", without.sorted().joined(separator: ",")]
        return try RingwayProcess(
            wrapper: script, [SeccompProfileTests.profilePath] + options + ["--", binary] + arguments)
    }

    /// The `Seccomp:` field of /proc/PID/status: "2" under a filter.
    static func filterMode(of pid: Int32) -> String? {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Seccomp:") }?
            .split(whereSeparator: \.isWhitespace).last.map(String.init)
    }
}
