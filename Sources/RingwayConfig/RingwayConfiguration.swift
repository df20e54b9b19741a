import ProxyProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything one Ringway process runs: its services and the process-wide settings. A plain value;
/// the command line (`-L`, `-F`, `--workers`, `-D`, `-metrics`) and a configuration file
/// (`FileConfiguration`, GOST's schema) fill it, then `validate()` and `resolveTargets()` make it
/// ready for the engine.
///
/// GOST file keys that map here: `services` (see `ServiceConfig`), `chains`, `log.level`,
/// `metrics.addr`, `metrics.path`. `workers` and `drainTimeout` (and the buffer flags, which the
/// engine takes) are process flags with no GOST counterpart: no file sets them and `-O` does not
/// print them.
public struct RingwayConfiguration: Hashable, Sendable {
    public var services: [ServiceConfig]
    /// Worker threads, one io_uring each; nil means one per online CPU.
    public var workers: Int?
    public var logLevel: LogLevel
    /// Where Prometheus metrics are served; nil means nowhere.
    public var metrics: MetricsEndpoint?
    /// After SIGTERM/SIGINT, how long open connections may run before they are closed; `.zero`
    /// closes them at once.
    public var drainTimeout: Duration
    /// Where each service was written (service name -> its `-L` text), so errors can quote it.
    public var serviceOrigins: [String: String] = [:]
    /// Where each service of a configuration file stands (service name -> file, line, key path).
    public var fileOrigins: [String: ConfigurationError.Origin] = [:]
    /// Where `metrics` was set when a file set it (else it came from `--metrics`).
    public var metricsOrigin: ConfigurationError.Origin?
    /// Things that work but are probably not what was meant, to log at start-up.
    public var warnings: [String] = []

    public static let defaultDrainTimeout = Duration.seconds(30)
    public static let workersRange = 1...1024
    /// Targets one service may have (a port range `1-65535` is the most one URL can write).
    public static let maximumTargets = 65535

    public init(
        services: [ServiceConfig],
        workers: Int? = nil,
        logLevel: LogLevel = .info,
        metrics: MetricsEndpoint? = nil,
        drainTimeout: Duration = defaultDrainTimeout
    ) {
        self.services = services
        self.workers = workers
        self.logLevel = logLevel
        self.metrics = metrics
        self.drainTimeout = drainTimeout
    }

    /// GOST's command line: `-L` arguments in order (services are numbered across all of them) and
    /// at most one `-F forward://` node, then `validate()`.
    public init(
        serviceURLs: [String],
        nodeURLs: [String] = [],
        workers: Int? = nil,
        logLevel: LogLevel = .info,
        metrics: MetricsEndpoint? = nil,
        drainTimeout: Duration = defaultDrainTimeout
    ) throws(ConfigurationError) {
        try self.init(
            file: nil, serviceURLs: serviceURLs, nodeURLs: nodeURLs, workers: workers, logLevel: logLevel,
            metrics: metrics, drainTimeout: drainTimeout)
    }

    /// What the engine runs: the services, then the metrics endpoint as a `.metrics` service.
    public var engineServices: [ServiceConfig] {
        services + (metrics.map { [$0.service] } ?? [])
    }

    /// `workers`, or one per online CPU (at least one).
    public var workerCount: Int {
        if let workers { return workers }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Checks what no single service can: that there is something to run, that no two sockets
    /// would share a port (with SO_REUSEPORT they would silently split the traffic), and the
    /// process-wide numbers.
    public func validate() throws(ConfigurationError) {
        guard !services.isEmpty else {
            throw ConfigurationError(.conflict("no service given; use -L tcp://:PORT/HOST:PORT"))
        }
        if let workers, !Self.workersRange.contains(workers) {
            throw ConfigurationError(
                .badValue(key: "workers", value: String(workers), expected: "an integer from 1 to 1024"),
                origin: .setting("--workers")
            )
        }
        if drainTimeout < .zero {
            throw ConfigurationError(
                .badValue(key: "drainTimeout", value: drainTimeout.goDescription, expected: "a duration of 0s or more"),
                origin: .setting("--drain-timeout")
            )
        }
        var names: Set<String> = []
        for service in services {
            guard names.insert(service.name).inserted else {
                throw ConfigurationError(.conflict("two services are named \(service.name); names must be unique"))
            }
            // GOST's metrics endpoint is no service, but Ringway's series label it service="metrics".
            if metrics != nil, service.name == metrics?.service.name {
                throw ConfigurationError(.conflict(
                    "the metrics endpoint's own series carry service=\"\(service.name)\"; rename this service so its "
                        + "series stay apart"), origin: origin(of: service.name))
            }
            if (service.kind == .forward || !service.chain.isEmpty) && service.targets.isEmpty {
                throw ConfigurationError(.missingTarget(use: "at least one forwarder node"), origin: origin(of: service.name))
            }
            if service.targets.count > Self.maximumTargets {
                let problem = ConfigurationProblem.badValue(
                    key: "targets", value: String(service.targets.count),
                    expected: "at most \(Self.maximumTargets) targets per service")
                throw ConfigurationError(problem, origin: origin(of: service.name))
            }
            // A proxy service dials targets only through a chain: its first hop's nodes.
            if service.kind != .forward && service.chain.isEmpty && !service.targets.isEmpty {
                let problem = ConfigurationProblem.unexpectedTargets(kind: service.handler)
                throw ConfigurationError(problem, origin: origin(of: service.name))
            }
        }
        var sockets: [(owner: String, address: ListenAddress)] = services.map { ($0.name, $0.listen) }
        if let metrics { sockets.append(("metrics", metrics.listen)) }
        for (index, socket) in sockets.enumerated() {
            for other in sockets[..<index] where other.address.overlaps(socket.address) {
                throw ConfigurationError(
                    .conflict("listens on the same port as \(describe(other.owner)) (\(other.address))"),
                    origin: origin(of: socket.owner))
            }
        }
    }

    /// Where service `name` was written: its `-L` text, its place in a file, the metrics option,
    /// or just its name.
    func origin(of name: String) -> ConfigurationError.Origin {
        if let text = serviceOrigins[name] { return .serviceURL(text) }
        if let place = fileOrigins[name] { return place }
        if name == "metrics", metrics != nil { return metricsOrigin ?? .setting("--metrics") }
        return .setting(name)
    }

    private func describe(_ name: String) -> String {
        switch origin(of: name) {
        case .serviceURL(let text): return "-L \"\(text)\""
        case .nodeURL(let text): return "-F \"\(text)\""
        case .setting(let setting): return setting
        case .file(let path, let line, let column, let keyPath): return "\(keyPath) at \(path):\(line):\(column)"
        }
    }
}

extension ListenAddress {
    /// Whether binding both would fight over connections: same port, and the same host or a
    /// wildcard covering the other's host.
    func overlaps(_ other: ListenAddress) -> Bool {
        guard port == other.port else { return false }
        guard let host, let otherHost = other.host else { return true }
        if host == otherHost { return true }
        switch (host, otherHost) {
        case (.v4(let a), .v4(let b)): return a.isUnspecified || b.isUnspecified
        case (.v6(let a), .v6(let b)): return a.isUnspecified || b.isUnspecified
        default: return false
        }
    }
}

extension LogLevel {
    /// One of `trace|debug|info|warn|error|fatal`, any case, or an error that lists them.
    public init(parsing text: String) throws(ConfigurationError) {
        guard let level = LogLevel(name: text) else {
            throw ConfigurationError(
                .badValue(key: "level", value: text, expected: "trace, debug, info, warn, error or fatal"),
                origin: .setting("--log-level")
            )
        }
        self = level
    }
}
