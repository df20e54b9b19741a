import Foundation
import Glibc
import Synchronization

/// Collects what a child process writes to a pipe: a thread of its own reads it with blocking
/// reads until end of file. Not `FileHandle.readabilityHandler`: tearing its dispatch source
/// down races the descriptor's close, and now and then that crashes libdispatch's event loop on
/// Linux (swift-corelibs-libdispatch#949, swift-corelibs-foundation#3276); these suites start
/// hundreds of processes, and one such crash ended a whole test run.
final class PipeCollector: Sendable {
    private let text = Mutex<String>("")

    /// Starts reading `pipe` (the child's end must be closed in this process, as `Process.run()`
    /// does): the thread keeps the pipe, and so its descriptor, until the child's end closes.
    init(_ pipe: Pipe) {
        let descriptor = pipe.fileHandleForReading.fileDescriptor
        let thread = Thread { [self] in
            var chunk = [UInt8](repeating: 0, count: 65536)
            var pending: [UInt8] = []
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending += chunk[0..<count]
                // Whole lines only, so a character split between two reads is decoded whole.
                if let end = pending.lastIndex(of: 0x0A) {
                    let lines = String(decoding: pending[...end], as: UTF8.self)
                    pending.removeSubrange(...end)
                    text.withLock { $0 += lines }
                }
            }
            if !pending.isEmpty { text.withLock { $0 += String(decoding: pending, as: UTF8.self) } }
            withExtendedLifetime(pipe) {}
        }
        thread.start()
    }

    /// What arrived so far (never blocks).
    var output: String { text.withLock { $0 } }
}
