import RingwayConfig

/// What the relay is doing, in the figures the metrics already keep: for a service manager's
/// status line (`systemctl status`), read every few seconds, never on the data path.
public struct EngineStatus: Equatable, Sendable, CustomStringConvertible {
    /// Services running now, the metrics endpoint not included.
    public var services: Int
    /// Client connections open now, of running and removed services (metrics scrapers not included).
    public var openConnections: Int
    /// `ringway_connections_accepted_total` over the same services, as the metrics show it.
    public var acceptedConnections: UInt64

    public init(services: Int, openConnections: Int, acceptedConnections: UInt64) {
        self.services = services
        self.openConnections = openConnections
        self.acceptedConnections = acceptedConnections
    }

    /// `3 services, 120 open connections, 45210 accepted`.
    public var description: String {
        func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
        return "\(counted(services, "service")), \(counted(openConnections, "open connection")), "
            + "\(acceptedConnections) accepted"
    }
}

extension Engine {
    /// The relay's figures now, summed over workers like a scrape.
    public var status: EngineStatus {
        slots.withLock { state in
            var status = EngineStatus(services: 0, openConnections: 0, acceptedConnections: 0)
            var counted: [Int] = []
            var names: Set<String> = []
            for (slot, entry) in state.table.entries.enumerated() {
                guard let config = entry.config, config.kind != .metrics else { continue }
                if entry.state == .live { status.services += 1 }
                status.openConnections += shared.activeConnections(slot)
                counted.append(slot)
                names.insert(config.name)
            }
            status.acceptedConnections = metrics.total(.connectionsAccepted, slots: counted, carriedFor: names)
            return status
        }
    }

    /// A line from outside the workers (the main thread's signal handling, notifications).
    public func log(_ level: LogLevel, kind: String, _ message: String) {
        var log = EventLog(level: options.logLevel, output: logOutput)
        log.write(level) { line in
            line.field("kind", kind)
            line.field("msg", message)
        }
        log.flush()
    }
}
