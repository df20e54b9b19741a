import Glibc
import Uring

/// Tells the service manager (systemd, `Type=notify`) about the relay's life: READY=1,
/// RELOADING=1, STOPPING=1 and STATUS=, over the datagram socket `$NOTIFY_SOCKET` names, as
/// sd_notify(3) does, without libsystemd. Without `$NOTIFY_SOCKET` it does nothing.
///
/// A notification that cannot be sent never stops the relay: the first failure is handed back
/// for the caller to log once as a warning, later ones are dropped silently.
public final class ServiceNotifier {
    /// Where notifications go, or why they cannot go anywhere.
    private enum State {
        case off
        case sending(NotifySocket, address: String)
        case unusable(NotifyError)
    }

    private let state: State
    private var failureReported = false

    /// From `$NOTIFY_SOCKET`'s value (nil: not run by a service manager that listens).
    public init(notifySocket value: String?) {
        guard let value else {
            state = .off
            return
        }
        do {
            let address = try NotifySocketAddress(value)
            state = .sending(try NotifySocket(address), address: value)
        } catch let error as NotifySocketAddressError {
            state = .unusable(.address(error))
        } catch let error as NotifyError {
            state = .unusable(error)
        } catch {
            state = .unusable(.socket(operation: "socket", Errno(rawValue: EINVAL)))
        }
    }

    /// The notifier for this process's environment.
    public static func fromEnvironment() -> ServiceNotifier {
        ServiceNotifier(notifySocket: getenv("NOTIFY_SOCKET").map { String(cString: $0) })
    }

    /// Whether a service manager asked for notifications.
    public var isEnabled: Bool {
        if case .off = state { return false }
        return true
    }

    /// Sends `message`. Returns a text for a warning the first time anything goes wrong (with
    /// what to expect from systemd), nil otherwise.
    @discardableResult
    public func send(_ message: NotifyMessage) -> String? {
        let failure: String
        switch state {
        case .off:
            return nil
        case .unusable(let error):
            failure = error.description
        case .sending(let socket, let address):
            do {
                try socket.send(message.text)
                return nil
            } catch {
                failure = "NOTIFY_SOCKET=\(address): \(error)"
            }
        }
        guard !failureReported else { return nil }
        failureReported = true
        return "cannot notify the service manager (\(failure)); the relay runs on, but systemd may not see it "
            + "ready or reloaded (further notification failures are not logged)"
    }

    /// CLOCK_MONOTONIC in microseconds, the clock of RELOADING=1's MONOTONIC_USEC.
    public static func monotonicMicroseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec) / 1000
    }
}
