import Glibc
import RingwayConfig

/// A thread's log: JSON lines collected in a fixed buffer and written once per loop turn (or
/// when full), in pieces of whole lines no larger than PIPE_BUF so lines from several workers
/// never interleave mid-line on a pipe.
///
/// Writes never block (see `LogOutput`). While the output does not take bytes, lines wait in the
/// buffer; when it is full, new lines are dropped and counted. The first dropped line queues one
/// warning (kept room at the end of the buffer ensures it fits), and a summary with the count
/// follows once output moves again.
struct EventLog: ~Copyable {
    static let lineCapacity = 2048
    static let bufferCapacity = 64 * 1024

    /// A reload may change it (`log.level`).
    var level: LogLevel
    private let buffer: UnsafeMutableRawPointer
    /// Unwritten bytes are `start..<used`.
    private var start = 0
    private var used = 0
    private let output: LogOutput
    /// Lines dropped since this log was created (exported as a counter by its owner).
    private(set) var droppedLines: UInt64 = 0
    /// Lines dropped since output last moved; nonzero means an episode is going on.
    private var droppedInEpisode: UInt64 = 0

    /// The current second, formatted once per second rather than once per line.
    private var clock = LogClock()

    init(level: LogLevel, output: LogOutput) {
        self.level = level
        self.output = output
        self.buffer = .allocate(byteCount: EventLog.bufferCapacity, alignment: 16)
    }

    deinit {
        clock.text.deallocate()
        // Owners flush before letting go; whatever the output still refuses now is lost.
        _ = EventLog.write(buffer, from: start, to: used, output)
        buffer.deallocate()
    }

    @inline(__always)
    func enabled(_ level: LogLevel) -> Bool { level >= self.level }

    /// Whether lines are waiting for the output to take them.
    var hasPending: Bool { used > start }

    /// Appends one line with `time`, `level` and whatever `body` adds. Call only after checking
    /// `enabled(_:)` where building the fields costs something.
    mutating func write(_ level: LogLevel, _ body: (inout JSONLine) -> Void) {
        guard enabled(level) else { return }
        // One line's worth stays free for the warning that starts a drop episode.
        if room < 2 * EventLog.lineCapacity { flush() }
        guard room >= 2 * EventLog.lineCapacity else {
            if droppedInEpisode == 0 {
                append(.warn) { line in
                    line.field("kind", "log")
                    line.field("msg", "log output is not keeping up: dropping lines until it does "
                        + "(counted in ringway_log_lines_dropped_total)")
                }
            }
            droppedLines += 1
            droppedInEpisode += 1
            return
        }
        append(level, body)
    }

    /// Writes what the output takes now, without waiting.
    mutating func flush() {
        start = EventLog.write(buffer, from: start, to: used, output)
        guard start == used else {
            compact()
            return
        }
        start = 0
        used = 0
        if droppedInEpisode > 0 {
            let dropped = droppedInEpisode
            droppedInEpisode = 0
            append(.warn) { line in
                line.field("kind", "log")
                line.field("dropped", dropped)
                line.field("msg", "log output moves again; \(dropped) lines were dropped while it was blocked")
            }
        }
    }

    /// Writes `buffer[start..<used]` until the output stops taking bytes; returns where it
    /// stopped (`used` when everything went, or when the output is gone and the rest is lost).
    private static func write(_ buffer: UnsafeMutableRawPointer, from start: Int, to used: Int, _ output: LogOutput) -> Int {
        var start = start
        while start < used {
            // Largest run of whole lines that fits in PIPE_BUF (a line is at most lineCapacity).
            var end = min(used, start + Int(PIPE_BUF))
            if end < used {
                while end > start && buffer.load(fromByteOffset: end - 1, as: UInt8.self) != UInt8(ascii: "\n") { end -= 1 }
                if end == start { end = min(used, start + Int(PIPE_BUF)) }
            }
            switch output.write(buffer + start, count: end - start) {
            case .wrote(let count): start += count
            case .wouldBlock: return start
            case .failed: return used  // the output is gone: the relay keeps working, its logs are lost
            }
        }
        return start
    }

    /// At exit: flushes, waiting up to a second in all for a slow reader, then gives up.
    mutating func flushBeforeExit() {
        let deadline = monotonicMilliseconds() + 1000
        flush()
        while hasPending && monotonicMilliseconds() < deadline {
            var ready = pollfd(fd: output.descriptor.rawValue, events: Int16(POLLOUT), revents: 0)
            _ = poll(&ready, 1, 50)
            flush()
        }
    }

    private var room: Int { EventLog.bufferCapacity - used }

    private mutating func append(_ level: LogLevel, _ body: (inout JSONLine) -> Void) {
        var line = JSONLine(into: buffer + used, capacity: EventLog.lineCapacity)
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        if now.tv_sec != clock.second { clock.format(second: now.tv_sec) }
        let milliseconds = UInt64(now.tv_nsec / 1_000_000)
        line.field("time") { text in
            text.appendRaw(UnsafeRawBufferPointer(start: clock.text, count: LogClock.length))
            text.append(UInt8(ascii: "."))
            text.appendPadded(milliseconds, width: 3)
            text.append(UInt8(ascii: "Z"))
        }
        line.field("level", level.description)
        body(&line)
        used += line.finish()
    }

    /// Moves the unwritten bytes to the front, making room behind them.
    private mutating func compact() {
        guard start > 0 else { return }
        memmove(buffer, buffer + start, used - start)
        used -= start
        start = 0
    }
}

/// `2006-01-02T15:04:05` (UTC) of one second, kept until the clock moves on: `gmtime_r` and the
/// digits once per second instead of once per log line.
struct LogClock {
    static let length = 19
    let text = UnsafeMutablePointer<UInt8>.allocate(capacity: LogClock.length)
    private(set) var second: Int = -1

    mutating func format(second: Int) {
        self.second = second
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var position = 0
        func put(_ value: Int32, width: Int) {
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                text[position] = UInt8(ascii: "0") + UInt8(value / divisor % 10)
                position += 1
                divisor /= 10
            }
        }
        func put(_ character: Unicode.Scalar) {
            text[position] = UInt8(ascii: character)
            position += 1
        }
        put(parts.tm_year + 1900, width: 4)
        put("-")
        put(parts.tm_mon + 1, width: 2)
        put("-")
        put(parts.tm_mday, width: 2)
        put("T")
        put(parts.tm_hour, width: 2)
        put(":")
        put(parts.tm_min, width: 2)
        put(":")
        put(parts.tm_sec, width: 2)
    }
}
