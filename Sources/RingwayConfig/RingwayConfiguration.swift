import ProxyProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Everything one Ringway process runs: its services and the process-wide settings. A plain value;
/// the command line (`-L`, `-F`, `--workers`, `-D`, `-metrics`) or a YAML file fills it, then
/// `validate()` and `resolveTargets()` make it ready for the engine.
///
/// GOST YAML keys that map here: `services` (see `ServiceConfig`), `log.level`, `metrics.addr`,
/// `metrics.path`. `workers` and `drainTimeout` have no GOST counterpart.
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
        // Each -F is one hop, in order, as in GOST.
        var chain: [ChainHop] = []
        for text in nodeURLs { chain.append(try ChainHop(parsing: text)) }
        if chain.count > 1, let index = chain.firstIndex(where: { $0.connector == .forward }) {
            throw ConfigurationError(.forwardHopInChain, origin: .nodeURL(nodeURLs[index]))
        }
        let forwardNode = chain.count == 1 && chain[0].connector == .forward
        var services: [ServiceConfig] = []
        var origins: [String: String] = [:]
        var warnings: [String] = []
        for text in serviceURLs {
            let parsed = try ServiceURL.parse(text, chain: chain, firstIndex: services.count)
            for service in parsed { origins[service.name] = text }
            if forwardNode, ServiceURL.hasExplicitTargets(text) {
                warnings.append(
                    "-L \"\(text)\": its targets are ignored: with -F every connection goes to the -F node, as in "
                        + "GOST; write the service without targets (or with GOST's placeholder /:0) to say so")
            }
            if let proxy = parsed.first(where: { $0.kind == .proxy }), proxy.credentials == nil,
                proxy.listen.host.map({ !$0.isLoopback }) ?? true
            {
                warnings.append(
                    "-L \"\(text)\": a \(proxy.handler) proxy without USER:PASS@ that listens beyond loopback is an open "
                        + "proxy to anything this host can reach, internal addresses included; add credentials, or "
                        + "listen on 127.0.0.1 or behind a firewall")
            }
            services += parsed
        }
        // A hop that is one of our own proxy services would nest connections without end.
        for (index, hop) in chain.enumerated() where hop.connector != .forward {
            for node in hop.targets where node.host.isEmpty || node.host == "localhost" || IPAddress(node.host)?.isLoopback == true {
                if let own = services.first(where: { $0.listen.port == node.port && ($0.listen.host.map { $0.isLoopback || $0.isUnspecified } ?? true) }) {
                    throw ConfigurationError(
                        .conflict("\(node) is this process's own \(own.name) (\(own.listen)); a hop into itself loops until descriptors run out"),
                        origin: .nodeURL(nodeURLs[index]))
                }
            }
        }
        if let text = nodeURLs.first, !services.contains(where: { $0.kind == .forward || $0.kind == .proxy }) {
            throw ConfigurationError(
                .conflict("no service uses it; -F applies to tcp:// and proxy services"), origin: .nodeURL(text))
        }
        self.init(
            services: services,
            workers: workers,
            logLevel: logLevel,
            metrics: metrics,
            drainTimeout: drainTimeout
        )
        serviceOrigins = origins
        self.warnings = warnings
        try validate()
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
        if let metrics { names.insert(metrics.service.name) }
        for service in services {
            guard names.insert(service.name).inserted else {
                throw ConfigurationError(.conflict("two services are named \(service.name); names must be unique"))
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

    /// Where service `name` was written: its `-L` text, the metrics option, or just its name.
    func origin(of name: String) -> ConfigurationError.Origin {
        if let text = serviceOrigins[name] { return .serviceURL(text) }
        return .setting(name == "metrics" && metrics != nil ? "--metrics" : name)
    }

    private func describe(_ name: String) -> String {
        switch origin(of: name) {
        case .serviceURL(let text): return "-L \"\(text)\""
        case .nodeURL(let text): return "-F \"\(text)\""
        case .setting(let setting): return setting
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
