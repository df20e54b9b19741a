import Foundation
import Glibc
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
}

/// A peer process with a config file in its own temporary directory, stopped on deinit.
final class PeerProcess: @unchecked Sendable {
    let directory: URL
    let process = Process()
    private let log = Pipe()
    private let collected = Mutex<String>("")

    init(executable: String, config: String, configName: String, arguments: (String) -> [String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-peer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configPath = directory.appendingPathComponent(configName).path
        try (config.replacingOccurrences(of: "@DIR@", with: directory.path) + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments(configPath)
        process.standardOutput = log
        process.standardError = log
        log.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard !data.isEmpty else { return }
            self?.collected.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    deinit {
        // Children of the test runner's threads may inherit a mask with SIGTERM blocked
        // (single-process nginx never unblocks it): escalate after a grace period.
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(2)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        log.fileHandleForReading.readabilityHandler = nil
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the peer printed so far (never blocks).
    var output: String { collected.withLock { $0 } }
}

/// Waits until something accepts connections on 127.0.0.1:`port`.
func waitForListener(_ port: UInt16, seconds: Double = 10) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if connected == 0 { return true }
        usleep(20_000)
    } while Date() < deadline
    return false
}

/// `curl` from a chosen local address; returns the body (or the error text).
func curl(_ url: String, from source: String = "127.0.0.5", extra: [String] = []) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: Peer.curl ?? "/usr/bin/curl")
    process.arguments = ["-sS", "--max-time", "10", "--interface", source] + extra + [url]
    let out = Pipe()
    process.standardOutput = out
    process.standardError = out
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
