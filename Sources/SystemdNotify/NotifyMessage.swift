/// One datagram of the sd_notify protocol: `KEY=VALUE` assignments, one per line.
public struct NotifyMessage: Equatable, Sendable {
    public struct Assignment: Equatable, Sendable {
        public let key: String
        public let value: String
    }

    public private(set) var assignments: [Assignment] = []

    /// Longest STATUS text sent, in bytes; `systemctl status` shows one line of it.
    public static let maximumStatusLength = 512

    public init() {}

    /// Start-up is complete: every listener accepts.
    public static func ready(status: String) -> NotifyMessage {
        NotifyMessage().adding("READY", "1").adding("STATUS", status)
    }

    /// A reload began at `monotonicMicroseconds` (CLOCK_MONOTONIC): systemd 253's
    /// Type=notify-reload waits for the READY=1 that follows, and matches the two by this time.
    public static func reloading(monotonicMicroseconds: UInt64, status: String) -> NotifyMessage {
        NotifyMessage().adding("RELOADING", "1").adding("MONOTONIC_USEC", String(monotonicMicroseconds))
            .adding("STATUS", status)
    }

    /// The drain began; the process exits when it ends.
    public static func stopping(status: String) -> NotifyMessage {
        NotifyMessage().adding("STOPPING", "1").adding("STATUS", status)
    }

    public static func status(_ text: String) -> NotifyMessage {
        NotifyMessage().adding("STATUS", text)
    }

    /// A value is one line: a line break in it (a file name, an error text) would start an
    /// assignment of its own, so control characters become spaces. STATUS is cut to
    /// `maximumStatusLength` bytes on a character boundary.
    public func adding(_ key: String, _ value: String) -> NotifyMessage {
        var flat = String(value.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
        if key == "STATUS" && flat.utf8.count > Self.maximumStatusLength {
            var cut = ""
            for character in flat {
                if cut.utf8.count + character.utf8.count > Self.maximumStatusLength - 3 { break }
                cut.append(character)
            }
            flat = cut + "..."
        }
        var message = self
        message.assignments.append(Assignment(key: key, value: flat))
        return message
    }

    /// The datagram's text: `KEY=VALUE\n` for each assignment.
    public var text: String {
        assignments.map { "\($0.key)=\($0.value)\n" }.joined()
    }
}
