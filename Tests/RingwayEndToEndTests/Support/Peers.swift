import Foundation
import Glibc
import RingwayTestSupport
import Synchronization

/// Real peers from Debian's packages (scripts/test installs them). Tests that need one are
/// skipped with the reason when it is missing.
enum Peer {
    static func path(_ name: String) -> String? {
        for directory in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static var haproxy: String? { path("haproxy") }
    static var nginx: String? { path("nginx") }
    static var curl: String? { path("curl") }
    static var squid: String? { path("squid") }
    static var danted: String? { path("danted") }
    /// The systemd unit's checks: `systemd-analyze verify` and `syscall-filter` (package systemd),
    /// the system calls Ringway makes (strace), and PR_SET_MDWE through Python's ctypes.
    static var systemdAnalyze: String? { path("systemd-analyze") }
    static var strace: String? { path("strace") }
    static var python3: String? { path("python3") }

    /// scripts/test installs the peers and sets RINGWAY_REQUIRE_PEERS=1: there (and so in CI) a
    /// missing peer is a failure, not a silent skip.
    static var required: Bool { ProcessInfo.processInfo.environment["RINGWAY_REQUIRE_PEERS"] == "1" }

    /// The peers the tests use that are not installed.
    static var missing: [String] {
        [("haproxy", haproxy), ("nginx", nginx), ("curl", curl), ("squid", squid), ("danted", danted),
         ("systemd-analyze", systemdAnalyze), ("strace", strace), ("python3", python3)]
            .filter { $0.1 == nil }.map(\.0)
    }
}

/// A peer process with a config file in its own temporary directory, stopped on deinit.
final class PeerProcess: @unchecked Sendable {
    let directory: URL
    let process = Process()
    private let log = Pipe()
    private var collector: PipeCollector?

    init(executable: String, config: String, configName: String, arguments: (String) -> [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configPath = directory.appendingPathComponent(configName).path
        try (config.replacingOccurrences(of: "@DIR@", with: directory.path) + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments(configPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        collector = PipeCollector(log)
    }

    deinit {
        process.stop(grace: 2)
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the peer printed so far (never blocks).
    var output: String { collector?.output ?? "" }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
func waitForListener(_ port: UInt16, seconds: Double = 10) -> Bool {
    becomesTrue(within: seconds, interval: 20_000) {
        guard let fd = try? Sockets.connect(port: port, timeoutSeconds: 1) else { return false }
        close(fd)
        return true
    }
}

/// `curl` from a chosen local address; returns the body (or the error text).
func curl(_ url: String, from source: String = "127.0.0.5", extra: [String] = []) throws -> String {
    try runToCompletion(Peer.curl ?? "/usr/bin/curl", ["-sS", "--max-time", "10", "--interface", source] + extra + [url]).output
}
