import Foundation
import Glibc
import RingwayTestSupport
import ProxyProtocol
import Relay
import RingwayConfig
import Synchronization
import Testing

/// Collects the engine's JSON log lines from a pipe on a background thread.
final class LogCapture: @unchecked Sendable {
    let writeDescriptor: Int32
    private let readDescriptor: Int32
    private let text = Mutex<String>("")

    init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0)
        readDescriptor = ends[0]
        writeDescriptor = ends[1]
        let readerThread = Thread { [self] in self.readUntilClosed() }
        readerThread.start()
    }

    private func readUntilClosed() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(readDescriptor, $0.baseAddress, $0.count) }
            if count <= 0 { break }
            let chunk = String(decoding: buffer[0..<count], as: UTF8.self)
            text.withLock { $0 += chunk }
        }
        close(readDescriptor)
    }

    /// Closes the write end (after the engine stopped), so the reader thread ends.
    func finish() {
        close(writeDescriptor)
    }

    var lines: [String] { text.withLock { $0 }.split(separator: "\n").map(String.init) }

    /// Waits up to `seconds` for a line containing every fragment.
    func waitForLine(containing fragments: [String], seconds: Double = 5) -> String? {
        waitFor(seconds: seconds) { lines.first(containingAll: fragments) }
    }
}

/// A running engine for one test, with its log captured.
final class RelayFixture {
    let engine: Engine
    let logs = LogCapture()

    init(
        _ services: [ServiceConfig], workers: Int = 1, bufferCount: Int = 256, bufferSize: Int = 16 * 1024,
        buffersPerDirection: Int = 2, drainTimeout: Duration = .seconds(10), logLevel: LogLevel = .info,
        resolverServers: [String]? = nil, resolverTimeoutMilliseconds: Int? = nil, inheriting inherited: InheritedListeners? = nil
    ) throws {
        raiseDescriptorLimit()
        // The binary ignores SIGPIPE (sends use MSG_NOSIGNAL, but a splice into a socket whose
        // peer is gone raises it, from an io-wq thread of this process); an engine run in the
        // test process needs the same, or such a splice ends the whole test run (seen once).
        signal(SIGPIPE, SIG_IGN)
        var options = EngineOptions(
            workers: workers, logLevel: logLevel, bufferCount: bufferCount, bufferSize: bufferSize,
            buffersPerDirection: buffersPerDirection, drainTimeout: drainTimeout)
        options.logDescriptor = logs.writeDescriptor
        options.resolverServers = resolverServers
        if let resolverTimeoutMilliseconds {
            options.resolverTimeoutMilliseconds = resolverTimeoutMilliseconds
            options.resolverTries = 1
        }
        engine = try Engine(services: services, options: options, inheriting: inherited)
        try engine.start()
    }

    var port: UInt16 { engine.boundPorts[0] }
    func port(_ service: Int) -> UInt16 { engine.boundPorts[service] }

    /// Stops the engine (closing what is open) and waits for its threads.
    func stop() {
        engine.stop()
        engine.wait()
        logs.finish()
    }

    /// The value of a metric line, e.g. `ringway_connections_closed_total{service="service-0"}`.
    /// A series that does not exist is a test failure (a renamed metric or label must not turn
    /// an `== 0` check into one that always passes).
    func metric(
        _ name: String, service: String = "service-0", label: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) -> UInt64 {
        var key = name + "{service=\"\(service)\""
        if let label { key += ",\(label)" }
        key += "}"
        for line in engine.metricsText().split(separator: "\n") where line.hasPrefix(key + " ") {
            if let value = line.split(separator: " ").last.flatMap({ UInt64($0) }) { return value }
        }
        Issue.record("no metric series \(key)", sourceLocation: sourceLocation)
        return 0
    }

    /// A process-wide series without labels (gauges such as `ringway_buffers_in_use`).
    func processMetric(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> UInt64 {
        for line in engine.metricsText().split(separator: "\n") where line.hasPrefix(name + " ") {
            if let value = line.split(separator: " ").last.flatMap({ UInt64($0) }) { return value }
        }
        Issue.record("no metric series \(name)", sourceLocation: sourceLocation)
        return 0
    }

    /// Closes of `service` for `reason` (a `ringway_connections_closed_by_reason_total` label).
    func closes(_ reason: String, service: String = "service-0", sourceLocation: SourceLocation = #_sourceLocation) -> UInt64 {
        metric("ringway_connections_closed_by_reason_total", service: service, label: "reason=\"\(reason)\"",
               sourceLocation: sourceLocation)
    }

    /// Every nonzero close reason of `service`, e.g. `finished=7 client_reset=1`: for failure
    /// messages of tests whose symptom (bytes missing) does not say how the connection ended.
    func closeSummary(service: String = "service-0") -> String {
        let prefix = "ringway_connections_closed_by_reason_total{service=\"\(service)\",reason=\""
        let counts = engine.metricsText().split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix(prefix), let value = line.split(separator: " ").last, value != "0" else { return nil }
            return "\(line.dropFirst(prefix.count).prefix { $0 != "\"" })=\(value)"
        }.joined(separator: " ")
        // The log line of the last connection that did not end well names the errno.
        let last = logs.lines.last { $0.contains("\"reason\":") && !$0.contains("\"reason\":\"finished\"") }
        return counts + (last.map { "; last: \($0)" } ?? "")
    }

    /// Polls until `condition` holds or `seconds` pass; returns whether it held.
    func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
        becomesTrue(within: seconds, interval: 5_000, condition)
    }
}

/// A forwarding service on an ephemeral loopback port.
func forwardService(
    to ports: [UInt16], name: String = "service-0", receive: ProxyReceiveConfig? = nil, send: ProxySendConfig? = nil,
    connectTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(60), maxConnections: Int? = nil,
    splice: Bool = false, listenHost: IPAddress? = .v4(.loopback)
) -> ServiceConfig {
    ServiceConfig(
        name: name, kind: .forward, listen: ListenAddress(host: listenHost, port: 0),
        targets: ports.map { TargetAddress(host: "127.0.0.1", port: $0, resolved: [IPEndpoint(address: .v4(.loopback), port: $0)]) },
        receiveProxy: receive, sendProxy: send, connectTimeout: connectTimeout, idleTimeout: idleTimeout,
        maxConnections: maxConnections, splice: splice)
}

func forwardService(to port: UInt16, receive: ProxyReceiveConfig? = nil, send: ProxySendConfig? = nil,
                    connectTimeout: Duration = .seconds(5), idleTimeout: Duration = .seconds(60),
                    maxConnections: Int? = nil, splice: Bool = false, listenHost: IPAddress? = .v4(.loopback)) -> ServiceConfig {
    forwardService(to: [port], receive: receive, send: send, connectTimeout: connectTimeout, idleTimeout: idleTimeout,
                   maxConnections: maxConnections, splice: splice, listenHost: listenHost)
}

/// A loopback port whose accept queue is full, so SYNs to it are dropped and a connect hangs
/// until its timeout. Close `sockets` (the listener and the queue's fillers) when done.
func unansweredPort() throws -> (port: UInt16, sockets: [Int32]) {
    let (listener, port) = try Sockets.listen(backlog: 0)
    var sockets = [listener]
    // Backlog 0 holds one connection; the rest fill the SYN queue.
    for _ in 0..<3 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        setNonBlocking(fd)
        try Sockets.withSockaddr(.init(address: .v4(.loopback), port: port)) { _ = connect(fd, $0, $1) }
        sockets.append(fd)
    }
    usleep(100_000)
    return (port, sockets)
}
