import ProxyProtocol
import Synchronization

/// Reads every worker's counters and renders them in the Prometheus text format.
final class MetricsSource: @unchecked Sendable {
    let shared: SharedServiceState
    /// Per service slot: the name its series carry (nil: free). A reload renames, adds and
    /// removes; two slots may share a name while a moved service's old address drains, and
    /// their values are summed.
    private let names: Mutex<[String?]>
    /// Counter totals of reclaimed slots whose service lives on in another slot (it moved to a
    /// new address), per name and counter cell, so its counters never go backwards.
    private let carried = Mutex<[String: [UInt64]]>([:])
    /// Reloads applied and refused, for `ringway_reloads_total`.
    private let reloads = Mutex<(applied: UInt64, refused: UInt64)>((0, 0))
    /// Set once before any worker starts, read-only afterwards.
    private(set) var controls: [WorkerControl] = []
    /// The running services' target health (the engine's; absent for a worker tested alone).
    var targetHealth: TargetHealthRegistry?

    init(serviceNames: [String], capacity: Int, shared: SharedServiceState) {
        var names: [String?] = Array(repeating: nil, count: max(capacity, serviceNames.count))
        for (index, name) in serviceNames.enumerated() { names[index] = name }
        self.names = Mutex(names)
        self.shared = shared
    }

    convenience init(serviceNames: [String], shared: SharedServiceState) {
        self.init(serviceNames: serviceNames, capacity: serviceNames.count, shared: shared)
    }

    func attach(_ controls: [WorkerControl]) {
        self.controls = controls
    }

    /// Slot `slot` now carries `name` (nil: gone from the metrics).
    func name(slot: Int, _ name: String?) {
        names.withLock { $0[slot] = name }
    }

    /// Before `slot` is reclaimed: its per-service counters join the totals of its name if a
    /// service of that name runs on (`liveNames`); the name's other carried totals are dropped
    /// once no service has it.
    func reclaim(slot: Int, liveNames: Set<String>) {
        guard let name = names.withLock({ $0[slot] }) else { return }
        if liveNames.contains(name) {
            let processWide = Set(Counter.allCases.filter(\.isProcessWide).map(\.rawValue))
            let values = (0..<CounterBlock.perService).map { cell in processWide.contains(cell) ? 0 : total(slot: cell, service: slot) }
            carried.withLock { totals in
                let sum = zip(totals[name] ?? Array(repeating: 0, count: values.count), values).map { $0 &+ $1 }
                totals[name] = sum
            }
        }
        self.name(slot: slot, nil)
    }

    /// Forgets the carried totals of names no service has any more.
    func keepCarried(only liveNames: Set<String>) {
        carried.withLock { totals in totals = totals.filter { liveNames.contains($0.key) } }
    }

    func countReload(applied: Bool) {
        reloads.withLock { if applied { $0.applied += 1 } else { $0.refused += 1 } }
    }

    /// Each named service once, with every slot carrying its name.
    private func serviceGroups() -> [(name: String, slots: [Int])] {
        let current = names.withLock { $0 }
        var groups: [(name: String, slots: [Int])] = []
        var position: [String: Int] = [:]
        for (slot, name) in current.enumerated() {
            guard let name else { continue }
            if let index = position[name] {
                groups[index].slots.append(slot)
            } else {
                position[name] = groups.count
                groups.append((name, [slot]))
            }
        }
        return groups
    }

    func total(slot: Int, service: Int) -> UInt64 {
        controls.reduce(0) { $0 &+ $1.counters.load(slot: slot, service: service) }
    }

    func total(_ counter: Counter, service: Int) -> UInt64 { total(slot: counter.rawValue, service: service) }

    /// `counter` over `slots`, plus what reclaimed slots of `names` carried over: what the
    /// metrics show for those services together.
    func total(_ counter: Counter, slots: [Int], carriedFor names: Set<String>) -> UInt64 {
        let carried = self.carried.withLock { totals in names.reduce(UInt64(0)) { $0 &+ (totals[$1]?[counter.rawValue] ?? 0) } }
        return slots.reduce(carried) { $0 &+ total(counter, service: $1) }
    }

    private func total(slot: Int, services: [Int], carried: [UInt64]?) -> UInt64 {
        services.reduce(carried?[slot] ?? 0) { $0 &+ total(slot: slot, service: $1) }
    }

    func render() -> String {
        var text = ""
        func family(_ name: String, _ help: String, _ type: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        let groups = serviceGroups()
        let carried = self.carried.withLock { $0 }
        family("ringway_connections_active", "Client connections open now.", "gauge")
        for (name, slots) in groups {
            let active = slots.reduce(0) { $0 + shared.activeConnections($1) }
            text += "ringway_connections_active{service=\"\(name)\"} \(active)\n"
        }
        let (applied, refused) = reloads.withLock { $0 }
        family("ringway_reloads_total", "Configuration reloads (SIGHUP), applied or refused (the running configuration kept).", "counter")
        text += "ringway_reloads_total{result=\"applied\"} \(applied)\n"
        text += "ringway_reloads_total{result=\"refused\"} \(refused)\n"
        for counter in Counter.allCases where counter.isProcessWide {
            family(counter.metricName, counter.help, counter.isGauge ? "gauge" : "counter")
            text += "\(counter.metricName) \(total(counter, service: 0))\n"
        }
        for counter in Counter.allCases where !counter.isProcessWide {
            family(counter.metricName, counter.help, "counter")
            for (name, slots) in groups {
                text += "\(counter.metricName){service=\"\(name)\"} \(total(slot: counter.rawValue, services: slots, carried: carried[name]))\n"
            }
        }
        family("ringway_connections_closed_by_reason_total", "Closed connections by the reason they ended.", "counter")
        for (name, slots) in groups {
            for (offset, reason) in CloseReason.allCases.enumerated() {
                let value = total(slot: CounterBlock.closeReasonBase + offset, services: slots, carried: carried[name])
                text += "ringway_connections_closed_by_reason_total{service=\"\(name)\",reason=\"\(reason.name)\"} \(value)\n"
            }
        }
        family("ringway_proxy_header_rejections_total", "PROXY headers refused as invalid, by what was wrong.", "counter")
        for (name, slots) in groups {
            for (offset, code) in ProxyProtocolErrorCode.allCases.enumerated() {
                let value = total(slot: CounterBlock.proxyRejectBase + offset, services: slots, carried: carried[name])
                text += "ringway_proxy_header_rejections_total{service=\"\(name)\",reason=\"\(code.name)\"} \(value)\n"
            }
        }
        if let targetHealth { text += Self.renderTargets(targetHealth.live) }
        return text
    }

    /// Per target of each running service: whether it is up, and its failed connects and probes.
    /// Targets with the same node name and address in one service are one series.
    static func renderTargets(_ groups: [TargetHealthGroup]) -> String {
        struct Series {
            var labels: String
            var up = true
            var connectFailures: UInt64 = 0
            var probeFailures: UInt64 = 0
        }
        var series: [Series] = []
        for group in groups {
            var position: [String: Int] = [:]
            for target in 0..<group.count {
                let labels = "service=\"\(escaped(group.serviceName))\",node=\"\(escaped(group.nodeNames[target]))\","
                    + "target=\"\(escaped(group.targetTexts[target]))\""
                let index = position[labels] ?? series.count
                if index == series.count {
                    position[labels] = index
                    series.append(Series(labels: labels))
                }
                let cell = group.view.cells + target
                series[index].up = series[index].up && group.view.isUp(target)
                series[index].connectFailures &+= cell.pointee.connectFailures.load(ordering: .relaxed)
                series[index].probeFailures &+= cell.pointee.probeFailures.load(ordering: .relaxed)
            }
        }
        var text = "# HELP ringway_target_up Whether a target is up (1) or marked down (0) after maxFails failed connects or probes in a row.\n"
        text += "# TYPE ringway_target_up gauge\n"
        for entry in series { text += "ringway_target_up{\(entry.labels)} \(entry.up ? 1 : 0)\n" }
        text += "# HELP ringway_target_connect_failures_total Connect attempts to a target that failed (refused, unreachable, timed out).\n"
        text += "# TYPE ringway_target_connect_failures_total counter\n"
        for entry in series { text += "ringway_target_connect_failures_total{\(entry.labels)} \(entry.connectFailures)\n" }
        text += "# HELP ringway_target_probe_failures_total Active probes of a target that failed.\n"
        text += "# TYPE ringway_target_probe_failures_total counter\n"
        for entry in series { text += "ringway_target_probe_failures_total{\(entry.labels)} \(entry.probeFailures)\n" }
        return text
    }

    /// A label value as the text format wants it: backslash, quote and newline escaped.
    static func escaped(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var result = ""
        for character in value {
            switch character {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            case "\n": result += "\\n"
            default: result.append(character)
            }
        }
        return result
    }
}
