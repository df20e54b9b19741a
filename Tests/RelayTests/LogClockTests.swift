@testable import Relay
import Testing

/// Log lines take their second from a cache formatted once per second.
@Suite("Log clock")
struct LogClockTests {
    @Test(arguments: [
        (0, "1970-01-01T00:00:00"), (1_000_000_000, "2001-09-09T01:46:40"), (1_709_210_096, "2024-02-29T12:34:56"),
        (4_102_444_799, "2099-12-31T23:59:59"),
    ])
    func formatsUTCSeconds(_ second: Int, _ expected: String) {
        var clock = LogClock()
        defer { clock.text.deallocate() }
        clock.format(second: second)
        #expect(String(decoding: UnsafeBufferPointer(start: clock.text, count: LogClock.length), as: UTF8.self) == expected)
        #expect(clock.second == second)
    }
}
