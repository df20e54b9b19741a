import Relay
import RingwayConfig
import SystemdNotify

/// What the service manager hears (systemd's `Type=notify`, see `ServiceNotifier`): READY=1 once
/// every worker accepts, RELOADING=1 and READY=1 around each SIGHUP, STOPPING=1 when the drain
/// starts, and the STATUS line every few seconds when it changed. All from the main thread's
/// signal loop: nothing here runs on a worker, and nothing waits on the manager.
final class ServiceManagerReports {
    /// How often the STATUS figures are looked at; sent only when they changed.
    static let statusIntervalMicroseconds: UInt64 = 2_000_000

    private let notifier: ServiceNotifier
    private let engine: Engine
    private var lastStatus = ""
    private var nextStatusAt: UInt64 = 0
    private var draining = false

    init(engine: Engine, notifier: ServiceNotifier) {
        self.engine = engine
        self.notifier = notifier
    }

    /// After the engine started: every worker accepts on every service.
    func ready() {
        send(.ready(status: figures()))
    }

    /// SIGHUP received; `reloaded` follows once the reload was applied or refused.
    func reloading() {
        send(.reloading(monotonicMicroseconds: ServiceNotifier.monotonicMicroseconds(), status: "reloading the configuration"))
    }

    func reloaded(_ outcome: ReloadOutcome) {
        switch outcome {
        case .applied(let summary):
            send(.ready(status: "reloaded (\(summary)); \(figures())"))
        case .refused(let reason):
            send(.ready(status: "reload refused, running configuration kept: \(reason)"))
        }
    }

    /// The first stop signal: no more accepts; the process exits when the drain ends.
    func drainStarted(timeout: Duration) {
        draining = true
        send(.stopping(status: "\(figures()); what is open after \(timeout.goDescription) is closed"))
    }

    /// The second stop signal.
    func stoppingNow() {
        send(.status("stopping: closing every connection now"))
    }

    /// From the signal loop, every turn: the STATUS line when its figures changed.
    func tick() {
        guard notifier.isEnabled else { return }
        let now = ServiceNotifier.monotonicMicroseconds()
        guard now >= nextStatusAt else { return }
        nextStatusAt = now + Self.statusIntervalMicroseconds
        let status = figures()
        guard status != lastStatus else { return }
        send(.status(status))
    }

    private func figures() -> String {
        (draining ? "draining: " : "") + engine.status.description
    }

    private func send(_ message: NotifyMessage) {
        guard notifier.isEnabled else { return }
        if let status = message.assignments.last(where: { $0.key == "STATUS" }) { lastStatus = status.value }
        if let warning = notifier.send(message) { engine.log(.warn, kind: "systemd", warning) }
    }
}

/// How a SIGHUP ended, for the STATUS line.
enum ReloadOutcome {
    case applied(String)
    case refused(String)
}
