import CLiburing
import Glibc

/// An eventfd: another thread `signal()`s it to wake whoever waits on its descriptor (a read
/// on a ring, or poll).
public struct EventCounter: ~Copyable, Sendable {
    public let descriptor: Descriptor

    public init() throws(Errno) {
        descriptor = Descriptor(rawValue: try systemCall { eventfd(0, Int32(EFD_CLOEXEC)) })
    }

    deinit {
        descriptor.closeNow()
    }

    /// Adds one to the counter, waking a waiting reader.
    public func signal() {
        var one: UInt64 = 1
        _ = write(descriptor.rawValue, &one, 8)
    }

    /// Waits up to `milliseconds` (-1: for ever) for a signal and consumes it; true if there was one.
    public func wait(milliseconds: Int32) -> Bool {
        var ready = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, milliseconds) > 0 else { return false }
        var value: UInt64 = 0
        _ = read(descriptor.rawValue, &value, 8)
        return true
    }
}
