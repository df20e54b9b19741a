import Foundation
import Glibc
import RingwayTestSupport
import Synchronization

/// The `ringway` binary under test: `RINGWAY_BINARY` (set by scripts/test to the release build),
/// else the debug build next to the tests.
enum RingwayBinary {
    static var path: String {
        // Absolute, as tests hand it to tools that insist (systemd-analyze) or run elsewhere.
        if let path = ProcessInfo.processInfo.environment["RINGWAY_BINARY"], !path.isEmpty {
            return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        for candidate in [".build/release/ringway", ".build/debug/ringway"] {
            let path = root.appendingPathComponent(candidate).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return "ringway"
    }
}

/// A running `ringway` process with its stderr collected line by line.
final class RingwayProcess: @unchecked Sendable {
    let process = Process()
    private let errorPipe = Pipe()
    private var collector: PipeCollector?

    /// Starts `ringway arguments...`, optionally through `/bin/sh -c` with a shell prefix (for
    /// `ulimit`) or as the last arguments of a `launcher` command (`strace -f -o FILE`), with
    /// `environment` added to the test's own; `binary` in place of the one under test
    /// (upgrades), inside `namespace` when given, at a lower priority with `niceness`.
    init(
        _ arguments: [String], shellPrefix: String? = nil, launcher: [String] = [], environment: [String: String] = [:],
        binary: String = RingwayBinary.path, namespace: NetworkNamespace? = nil, niceness: Int32 = 0
    ) throws {
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        var command = (executable: binary, arguments: arguments)
        if let shellPrefix {
            let quoted = ([binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            command = ("/bin/sh", ["-c", shellPrefix + "; exec " + quoted.joined(separator: " ")])
        } else if let first = launcher.first {
            command = (first, Array(launcher.dropFirst()) + [binary] + arguments)
        }
        // nice execs the command, so the process id stays the command's own.
        if niceness != 0 { command = ("/usr/bin/nice", ["-n", "\(niceness)", command.executable] + command.arguments) }
        if let namespace { command = namespace.command(command.executable, command.arguments) }
        process.executableURL = URL(fileURLWithPath: command.executable)
        process.arguments = command.arguments
        try start()
    }

    /// Starts `executable arguments...`: a wrapper (unshare, chroot) that ends by exec'ing a
    /// ringway, so the process, its signals and its stderr are ringway's.
    init(wrapper executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try start()
    }

    private func start() throws {
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        collector = PipeCollector(errorPipe)
    }

    deinit {
        process.stop(grace: 5)
    }

    /// Starts Ringway and returns once it holds `sockets` listening sockets on `port` (one per
    /// worker and service): from then on the kernel queues clients for it. For runs at
    /// `--log-level warn`, which has no "listening on" line.
    static func listening(
        _ arguments: [String], binary: String = RingwayBinary.path, namespace: NetworkNamespace? = nil, port: UInt16,
        sockets: Int, niceness: Int32 = 0
    ) throws -> RingwayProcess {
        let ringway = try RingwayProcess(arguments, binary: binary, namespace: namespace, niceness: niceness)
        let pid = ringway.process.processIdentifier
        let listening = becomesTrue(within: 20) {
            ProcessProbe.listeningSockets(of: pid, port: port) == sockets || !ringway.process.isRunning
        }
        guard listening, ringway.process.isRunning else {
            throw SocketError(what: "\(binary) did not listen on \(port): \(ringway.lines.suffix(3))", code: 0)
        }
        return ringway
    }

    var lines: [String] { (collector?.output ?? "").split(separator: "\n").map(String.init) }

    func waitForLine(containing fragments: [String], seconds: Double = 10) -> String? {
        waitFor(seconds: seconds) { lines.first(containingAll: fragments) }
    }

    /// Waits for the start-up lines of `count` services.
    func waitUntilListening(services count: Int, seconds: Double = 20) -> Bool {
        let outcome = waitFor(seconds: seconds) { () -> Bool? in
            if lines.filter({ $0.contains("listening on") }).count >= count { return true }
            return process.isRunning ? nil : false
        }
        return outcome ?? false
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for exit (bounded); returns the status, or nil if it is still running.
    func waitForExit(seconds: Double = 20) -> Int32? {
        guard becomesTrue(within: seconds, { !process.isRunning }) else { return nil }
        usleep(50_000)  // let the last stderr bytes arrive
        return process.terminationStatus
    }
}

/// Runs ringway to completion (for argument errors, --help, --check, -O) and returns status and
/// output; `directory` is its working directory, `input` its standard input.
func runRingway(
    _ arguments: [String], seconds: Double = 20, directory: URL? = nil, input: String? = nil
) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: RingwayBinary.path)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    let inputPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
    try process.run()
    if let input {
        inputPipe.fileHandleForWriting.write(Data(input.utf8))
        try? inputPipe.fileHandleForWriting.close()
    }
    if !becomesTrue(within: seconds, { !process.isRunning }) { process.stop(grace: 5) }
    let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (process.terminationStatus, stdout, stderr)
}
