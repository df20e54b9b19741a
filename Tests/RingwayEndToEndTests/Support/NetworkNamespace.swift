import Foundation
import Glibc
import RingwayTestSupport
import Synchronization

/// A network namespace of the test's own, with loopback up and `net.ipv4.tcp_migrate_req` set
/// as asked: sysctls are changed there, never on the host. Processes start in it through
/// `nsenter`; a test thread joins it with `enter()` before opening sockets (a socket stays in
/// the namespace it was opened in, whichever thread uses it later). A `sleep` started by
/// `unshare --net` holds it and is killed on deinit.
final class NetworkNamespace: @unchecked Sendable {
    static var unshare: String? { Peer.path("unshare") }
    static var nsenter: String? { Peer.path("nsenter") }
    static var ip: String? { Peer.path("ip") }

    /// Why namespaces cannot be made here (a tool is missing), or nil.
    static var unavailableReason: String? {
        let missing = [("unshare", unshare), ("nsenter", nsenter), ("ip", ip)].filter { $0.1 == nil }.map(\.0)
        return missing.isEmpty ? nil : "\(missing.joined(separator: ", ")) not installed (scripts/setup --peers installs iproute2)"
    }

    private let holder = Process()
    /// `/proc/PID/ns/net` of the holder.
    let path: String
    private let descriptor: Int32

    init(migrateQueuedConnections: Bool) throws {
        guard let unshare = Self.unshare, Self.nsenter != nil, Self.ip != nil else {
            throw SocketError(what: "network namespace: \(Self.unavailableReason ?? "")", code: ENOENT)
        }
        holder.executableURL = URL(fileURLWithPath: unshare)
        // Bounded: the holder ends by itself should the test runner die without killing it.
        holder.arguments = ["--net", "--", "/bin/sleep", "900"]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        path = "/proc/\(holder.processIdentifier)/ns/net"
        let own = Self.namespaceIdentity("/proc/self/ns/net")
        let path = self.path
        guard becomesTrue(within: 5, { Self.namespaceIdentity(path).map { $0 != own } ?? false }) else {
            holder.terminate()
            throw SocketError(what: "unshare --net did not make a namespace (is this root?)", code: EPERM)
        }
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SocketError(what: "open \(path)", code: errno) }
        try run(Self.ip!, ["link", "set", "lo", "up"])
        try run("/bin/sh", ["-c", "echo \(migrateQueuedConnections ? 1 : 0) > /proc/sys/net/ipv4/tcp_migrate_req"])
        let value = try runCapturing("/bin/cat", ["/proc/sys/net/ipv4/tcp_migrate_req"])
        guard value.hasPrefix(migrateQueuedConnections ? "1" : "0") else {
            throw SocketError(what: "tcp_migrate_req in the namespace reads \(value)", code: EINVAL)
        }
    }

    deinit {
        if holder.isRunning { kill(holder.processIdentifier, SIGKILL) }
        holder.waitUntilExit()
        close(descriptor)
    }

    private static func namespaceIdentity(_ path: String) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: path)
    }

    /// Executable and arguments that run `executable arguments...` inside the namespace (nsenter
    /// execs it: the process id is the command's own, so signals reach it directly).
    func command(_ executable: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        (Self.nsenter!, ["--net=\(path)", "--", executable] + arguments)
    }

    /// Runs a command inside the namespace to completion; throws unless it exits 0.
    func run(_ executable: String, _ arguments: [String]) throws {
        _ = try runCapturing(executable, arguments)
    }

    private func runCapturing(_ executable: String, _ arguments: [String]) throws -> String {
        let (launcher, launchArguments) = command(executable, arguments)
        let (status, output) = try runToCompletion(launcher, launchArguments)
        guard status == 0 else {
            throw SocketError(what: "\(executable) \(arguments.joined(separator: " ")) in the namespace: " + output, code: EINVAL)
        }
        return output
    }

    /// Moves the calling thread into the namespace. Only for threads the test created itself.
    func enter() throws {
        guard let setns = Self.setns else { throw SocketError(what: "setns is not in the C library", code: ENOSYS) }
        guard setns(descriptor, Self.newNetworkNamespace) == 0 else { throw SocketError(what: "setns", code: errno) }
    }

    /// glibc's setns(2) wrapper, which Swift's Glibc module leaves out (it needs _GNU_SOURCE).
    private static let setns: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "setns") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()
    private static let newNetworkNamespace: Int32 = 0x4000_0000  // CLONE_NEWNET

    /// Runs `body` on a thread of its own inside the namespace and returns what it returns
    /// (sockets it opens, such as an upstream's listener, live in the namespace).
    func perform<Value: Sendable>(_ body: @escaping @Sendable () throws -> Value) throws -> Value {
        let box = OutcomeBox<Value>()
        let thread = Thread { [self] in
            box.set(Result { () throws -> Value in
                try enter()
                return try body()
            })
        }
        thread.start()
        guard let outcome = waitFor(seconds: 30, interval: 1000, { box.outcome }) else {
            throw SocketError(what: "a thread in the namespace did not finish", code: ETIMEDOUT)
        }
        return try outcome.get()
    }
}

private final class OutcomeBox<Value: Sendable>: Sendable {
    private let stored = Mutex<Result<Value, any Error>?>(nil)
    func set(_ outcome: Result<Value, any Error>) { stored.withLock { $0 = outcome } }
    var outcome: Result<Value, any Error>? { stored.withLock { $0 } }
}
