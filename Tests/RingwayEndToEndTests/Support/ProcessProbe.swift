import Foundation
import Glibc
import RingwayTestSupport
import Synchronization

/// What a running process holds, read from /proc, and its metrics endpoint.
enum ProcessProbe {
    /// Resident set size in bytes (/proc/PID/statm, second field).
    static func residentBytes(of pid: Int32) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return -1 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return -1 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func openDescriptors(of pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// The Prometheus text at `http://127.0.0.1:PORT/metrics`, or "" when it cannot be read.
    static func scrape(port: UInt16) -> String {
        guard let fd = try? Sockets.connect(port: port, timeoutSeconds: 3) else { return "" }
        defer { close(fd) }
        guard (try? Sockets.sendAll(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) != nil,
            let response = try? Sockets.receiveAll(fd)
        else { return "" }
        return String(decoding: response, as: UTF8.self)
    }

    /// The value of series `name` (exactly as written, labels included) in `text`, or nil.
    static func value(_ name: String, in text: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return line.split(separator: " ").last.flatMap { UInt64($0) }
        }
        return nil
    }

    static func metric(_ name: String, port: UInt16) -> UInt64? {
        value(name, in: scrape(port: port))
    }

    /// What a process that does not exit is doing: each thread's state and kernel wait channel,
    /// and the TCP states of its sockets (`01` established, `08` close-wait, `0A` listen, ...).
    static func stuckReport(of pid: Int32) -> String {
        let threads = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []).sorted().map { task in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "?"
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8)) ?? ""
            let state = stat.split(separator: ")").last?.split(separator: " ").first ?? "?"
            let wchan = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/wchan", encoding: .utf8)) ?? "?"
            return "\(comm) \(state) \(wchan)"
        }
        var states: [Substring: Substring] = [:]
        for table in ["tcp", "tcp6"] {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                if fields.count > 9 { states[fields[9]] = fields[3] + " " + fields[1] + ">" + fields[2] }
            }
        }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let sockets = descriptors.compactMap { name -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)"),
                target.hasPrefix("socket:[")
            else { return nil }
            return states[Substring(target).dropFirst(8).dropLast()].map(String.init) ?? "other"
        }
        return "threads: \(threads.joined(separator: "; ")); \(descriptors.count) descriptors; sockets: "
            + sockets.sorted().joined(separator: ", ")
    }

    /// Whether anything listens on TCP `port` in the network namespace of process `pid`.
    static func listens(port: UInt16, inNamespaceOf pid: Int32) -> Bool {
        !listeningInodes(port: port, pid: pid).isEmpty
    }

    private static func listeningInodes(port: UInt16, pid: Int32) -> Set<Substring> {
        var inodes: Set<Substring> = []
        for table in ["tcp", "tcp6"] {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/net/\(table)", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", let local = fields[1].split(separator: ":").last,
                    UInt16(local, radix: 16) == port
                else { continue }
                inodes.insert(fields[9])
            }
        }
        return inodes
    }

    /// How many listening TCP sockets on `port` process `pid` holds.
    static func listeningSockets(of pid: Int32, port: UInt16) -> Int {
        listeningSocketInodes(of: pid, port: port).count
    }

    /// The inodes of the listening TCP sockets on `port` process `pid` holds: its descriptors
    /// matched with the LISTEN entries of /proc/PID/net/tcp{,6}, those of its network namespace.
    /// Two processes holding one socket (a handover) show the same inode.
    static func listeningSocketInodes(of pid: Int32, port: UInt16) -> Set<Substring> {
        let inodes = listeningInodes(port: port, pid: pid)
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return Set(descriptors.compactMap { name -> Substring? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(name)"),
                target.hasPrefix("socket:[")
            else { return nil }
            let inode = Substring(target).dropFirst(8).dropLast()
            return inodes.contains(inode) ? inode : nil
        })
    }
}

/// An upstream that accepts and never reads until `release()`, then closes: clients that write
/// to it pin the relay's receive buffers (their direction stays full).
final class StalledUpstream: @unchecked Sendable {
    private let released = Mutex<Bool>(false)
    private(set) var upstream: ScriptedUpstream!

    init() throws {
        upstream = try ScriptedUpstream(receiveBuffer: 4096) { [self] fd, _ in
            while !self.released.withLock({ $0 }) { usleep(20_000) }
            Sockets.reset(fd)
        }
    }

    var port: UInt16 { upstream.port }

    func release() { released.withLock { $0 = true } }

    func stop() {
        release()
        upstream.stop()
    }
}

/// An upstream that sends to every connection as fast as it can until the peer goes away or
/// `stop()`: clients that do not read pin the relay's upstream-to-client buffers.
final class FloodingUpstream: @unchecked Sendable {
    private let stopped = Mutex<Bool>(false)
    private(set) var upstream: ScriptedUpstream!

    init() throws {
        upstream = try ScriptedUpstream { [self] fd, _ in
            let chunk = [UInt8](repeating: 0x46, count: 65536)
            setNonBlocking(fd)
            while !self.stopped.withLock({ $0 }) {
                let sent = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0 && errno != EAGAIN && errno != EINTR { break }
                if sent < 0 { usleep(5_000) }
            }
            close(fd)
        }
    }

    var port: UInt16 { upstream.port }

    func stop() {
        stopped.withLock { $0 = true }
        upstream.stop()
    }
}
