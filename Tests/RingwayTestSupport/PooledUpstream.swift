import Foundation
import Glibc
import Synchronization

/// An upstream for connection-rate tests: a fixed pool of threads blocked in accept() on one
/// loopback listener, each running `script` on a connection to its end before taking the next.
/// No thread is created per connection (ScriptedUpstream's way), so the upstream keeps up with
/// thousands of connections a second; `threads` bounds how many it serves at once.
public final class PooledUpstream: @unchecked Sendable {
    public let port: UInt16
    private let listener: Int32
    private let stopped = Atomic<Bool>(false)
    private let running = Atomic<Int>(0)
    private let served = Atomic<Int>(0)

    /// Listens on 127.0.0.1:`port` (0: any free port), in the calling thread's network namespace;
    /// `niceness` lowers its threads' priority (see `setThreadNiceness`).
    public init(threads: Int, port: UInt16 = 0, niceness: Int32 = 0, _ script: @escaping @Sendable (Int32) -> Void) throws {
        (listener, self.port) = try Sockets.listen(port: port, backlog: 4096)
        // Non-blocking: the threads that lose the race for a connection go back to polling.
        setNonBlocking(listener)
        for _ in 0..<threads {
            running.add(1, ordering: .relaxed)
            let thread = Thread { [self] in
                defer { running.subtract(1, ordering: .releasing) }
                if niceness != 0 { setThreadNiceness(niceness) }
                while !stopped.load(ordering: .acquiring) {
                    // Polled with a timeout so that stop() is noticed; then one accept.
                    guard Sockets.readable(listener, within: 100) else { continue }
                    let fd = accept(listener, nil, nil)
                    guard fd >= 0 else { continue }  // another thread took it
                    // Blocking (on Linux, accept does not pass the listener's O_NONBLOCK on), with timeouts.
                    Sockets.setTimeouts(fd, seconds: 10)
                    served.add(1, ordering: .relaxed)
                    script(fd)
                }
            }
            thread.start()
        }
    }

    public var servedCount: Int { served.load(ordering: .relaxed) }

    /// Stops taking connections and closes the listener once every thread has finished its
    /// current connection (bounded).
    public func stop() {
        stopped.store(true, ordering: .releasing)
        _ = becomesTrue(within: 15) { running.load(ordering: .acquiring) == 0 }
        close(listener)
    }

    /// Echoes until EOF, then closes: the upstream of an echo test.
    public static let echo: @Sendable (Int32) -> Void = { fd in
        defer { close(fd) }
        while true {
            let (bytes, code) = Sockets.receiveOnce(fd)
            if bytes.isEmpty || code != 0 { return }
            if (try? Sockets.sendAll(fd, bytes)) == nil { return }
        }
    }
}

/// Lowers the calling thread's priority: on Linux the nice value is per thread, and
/// setpriority(PRIO_PROCESS, 0, ...) changes the caller's.
public func setThreadNiceness(_ niceness: Int32) {
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness)
}
