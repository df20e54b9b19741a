import Foundation

/// Calls `attempt` until it returns a value or `seconds` pass (it runs at least once), sleeping
/// `interval` microseconds between calls. Every bounded wait in the tests goes through here.
public func waitFor<Value>(
    seconds: Double, interval: useconds_t = 10_000, _ attempt: () throws -> Value?
) rethrows -> Value? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if let value = try attempt() { return value }
        usleep(interval)
    } while Date() < deadline
    return nil
}

/// Whether `condition` came true within `seconds`.
public func becomesTrue(within seconds: Double, interval: useconds_t = 10_000, _ condition: () -> Bool) -> Bool {
    waitFor(seconds: seconds, interval: interval) { condition() ? true : nil } ?? false
}

extension Array where Element == String {
    /// The first line containing every one of `fragments`.
    public func first(containingAll fragments: [String]) -> String? {
        first { line in fragments.allSatisfy { line.contains($0) } }
    }
}

/// CLOCK_MONOTONIC in seconds, for measuring how long something took.
public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
