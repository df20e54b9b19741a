import ProxyProtocol

/// Reads every worker's counters and renders them in the Prometheus text format.
final class MetricsSource: @unchecked Sendable {
    let serviceNames: [String]
    let shared: SharedServiceState
    /// Set once before any worker starts, read-only afterwards.
    private(set) var controls: [WorkerControl] = []

    init(serviceNames: [String], shared: SharedServiceState) {
        self.serviceNames = serviceNames
        self.shared = shared
    }

    func attach(_ controls: [WorkerControl]) {
        self.controls = controls
    }

    func total(slot: Int, service: Int) -> UInt64 {
        controls.reduce(0) { $0 &+ $1.counters.load(slot: slot, service: service) }
    }

    func total(_ counter: Counter, service: Int) -> UInt64 { total(slot: counter.rawValue, service: service) }

    func render() -> String {
        var text = ""
        func family(_ name: String, _ help: String, _ type: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        family("ringway_connections_active", "Client connections open now.", "gauge")
        for (service, name) in serviceNames.enumerated() {
            text += "ringway_connections_active{service=\"\(name)\"} \(shared.activeConnections(service))\n"
        }
        for counter in Counter.allCases where counter.isProcessWide {
            family(counter.metricName, counter.help, counter.isGauge ? "gauge" : "counter")
            text += "\(counter.metricName) \(total(counter, service: 0))\n"
        }
        for counter in Counter.allCases where !counter.isProcessWide {
            family(counter.metricName, counter.help, "counter")
            for (service, name) in serviceNames.enumerated() {
                text += "\(counter.metricName){service=\"\(name)\"} \(total(counter, service: service))\n"
            }
        }
        family("ringway_connections_closed_by_reason_total", "Closed connections by the reason they ended.", "counter")
        for (service, name) in serviceNames.enumerated() {
            for (offset, reason) in CloseReason.allCases.enumerated() {
                let value = total(slot: CounterBlock.closeReasonBase + offset, service: service)
                text += "ringway_connections_closed_by_reason_total{service=\"\(name)\",reason=\"\(reason.name)\"} \(value)\n"
            }
        }
        family("ringway_proxy_header_rejections_total", "PROXY headers refused as invalid, by what was wrong.", "counter")
        for (service, name) in serviceNames.enumerated() {
            for (offset, code) in ProxyProtocolErrorCode.allCases.enumerated() {
                let value = total(slot: CounterBlock.proxyRejectBase + offset, service: service)
                text += "ringway_proxy_header_rejections_total{service=\"\(name)\",reason=\"\(code.name)\"} \(value)\n"
            }
        }
        return text
    }
}
