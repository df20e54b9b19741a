import Foundation
import Glibc
import Synchronization

/// An upstream for behaviour tests: accepts on a loopback port and runs `script` on its own
/// thread for every connection. Records what the scripts report.
public final class ScriptedUpstream: @unchecked Sendable {
    public let port: UInt16
    private let listener: Int32
    private let script: @Sendable (Int32, ScriptedUpstream) -> Void
    private let notes = Mutex<[String]>([])
    private let accepted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// `receiveBuffer`: SO_RCVBUF for accepted sockets (inherited from the listener), to make
    /// a non-reading upstream push back after a few kilobytes instead of megabytes.
    public init(
        ipv6: Bool = false, port: UInt16 = 0, receiveBuffer: Int32? = nil,
        _ script: @escaping @Sendable (Int32, ScriptedUpstream) -> Void
    ) throws {
        (listener, self.port) = try Sockets.listen(ipv6: ipv6, port: port)
        if var size = receiveBuffer {
            setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(4))
        }
        self.script = script
        let thread = Thread { [self] in self.acceptLoop() }
        thread.start()
    }

    private func acceptLoop() {
        while !stopped.load(ordering: .acquiring) {
            guard Sockets.readable(listener, within: 100) else { continue }
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { continue }
            accepted.add(1, ordering: .relaxed)
            Sockets.setTimeouts(fd, seconds: 10)
            let thread = Thread { [self] in
                self.script(fd, self)
            }
            thread.start()
        }
        close(listener)
    }

    public func stop() { stopped.store(true, ordering: .releasing) }

    public var acceptedCount: Int { accepted.load(ordering: .relaxed) }

    public func note(_ text: String) { notes.withLock { $0.append(text) } }

    public var recorded: [String] { notes.withLock { $0 } }

    /// Waits until a note matching `predicate` was recorded.
    public func waitForNote(seconds: Double = 5, _ predicate: (String) -> Bool) -> String? {
        waitFor(seconds: seconds, interval: 5_000) { recorded.first(where: predicate) }
    }

    /// Echoes until EOF, then half-closes; says `greeting` first when given (a tag that shows
    /// which upstream a connection reached).
    public static func echo(greeting: String? = nil) throws -> ScriptedUpstream {
        try ScriptedUpstream { fd, _ in
            if let greeting, (try? Sockets.sendAll(fd, greeting)) == nil {
                close(fd)
                return
            }
            while true {
                let (bytes, code) = Sockets.receiveOnce(fd)
                if bytes.isEmpty || code != 0 { break }
                do { try Sockets.sendAll(fd, bytes) } catch { break }
            }
            shutdown(fd, Int32(SHUT_WR))
            close(fd)
        }
    }
}

/// A loopback port nothing listens on.
public func closedPort() throws -> UInt16 {
    let (fd, port) = try Sockets.listen()
    close(fd)
    return port
}

public func errnoName(_ code: Int32) -> String {
    switch code {
    case 0: return "none"
    case ECONNRESET: return "ECONNRESET"
    case EPIPE: return "EPIPE"
    case ETIMEDOUT: return "ETIMEDOUT"
    case EAGAIN: return "EAGAIN"
    default: return "errno \(code)"
    }
}
