import CLiburing
import Glibc
import RingwayConfig

/// A thread's log: JSON lines collected in a fixed buffer and written to stderr once per loop
/// turn (or when full), in pieces of whole lines no larger than PIPE_BUF so lines from several
/// workers never interleave mid-line on a pipe.
struct EventLog: ~Copyable {
    static let lineCapacity = 2048
    static let bufferCapacity = 64 * 1024

    let level: LogLevel
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    private let fileDescriptor: Int32

    init(level: LogLevel, fileDescriptor: Int32 = STDERR_FILENO) {
        self.level = level
        self.fileDescriptor = fileDescriptor
        self.buffer = .allocate(byteCount: EventLog.bufferCapacity, alignment: 16)
    }

    deinit {
        EventLog.writeLines(buffer, count: used, to: fileDescriptor)
        buffer.deallocate()
    }

    @inline(__always)
    func enabled(_ level: LogLevel) -> Bool { level >= self.level }

    /// Appends one line with `time`, `level` and whatever `body` adds. Call only after checking
    /// `enabled(_:)` where building the fields costs something.
    mutating func write(_ level: LogLevel, _ body: (inout JSONLine) -> Void) {
        guard enabled(level) else { return }
        if EventLog.bufferCapacity - used < EventLog.lineCapacity { flush() }
        var line = JSONLine(into: buffer + used, capacity: EventLog.lineCapacity)
        line.timeField("time")
        line.field("level", level.description)
        body(&line)
        used += line.finish()
    }

    /// Writes everything collected so far.
    mutating func flush() {
        EventLog.writeLines(buffer, count: used, to: fileDescriptor)
        used = 0
    }

    private static func writeLines(_ buffer: UnsafeMutableRawPointer, count used: Int, to fileDescriptor: Int32) {
        var start = 0
        while start < used {
            // Largest run of whole lines that fits in PIPE_BUF (a line is at most lineCapacity).
            var end = min(used, start + Int(PIPE_BUF))
            if end < used {
                while end > start && buffer.load(fromByteOffset: end - 1, as: UInt8.self) != UInt8(ascii: "\n") { end -= 1 }
                if end == start { end = min(used, start + Int(PIPE_BUF)) }
            }
            let written = Glibc.write(fileDescriptor, buffer + start, end - start)
            if written < 0 {
                if errno == EINTR { continue }
                break  // stderr gone: logs are lost, the relay keeps working
            }
            start += written
        }
    }
}
