import ProxyProtocol

extension RingwayConfiguration {
    /// A configuration file (`-C`) and the command line together, as GOST merges them: the file's
    /// services first, then the `-L` services, numbered `service-0`, `service-1`, ... on their own
    /// (GOST's `mergeConfig` appends them; a name the file also uses is an error, as in GOST). `-F` hops apply to the `-L` services only (file services
    /// name their chain). `logLevel` and `metrics` are the command line's `--log-level`/`-D` and
    /// `--metrics`: nil when not given, so the file's apply; given, they override it. The checks
    /// then run over the whole set: hops into one of this process's own services, open proxies,
    /// and `validate()`.
    public init(
        file: FileConfiguration?,
        serviceURLs: [String] = [],
        nodeURLs: [String] = [],
        workers: Int? = nil,
        logLevel: LogLevel? = nil,
        metrics: MetricsEndpoint? = nil,
        drainTimeout: Duration = defaultDrainTimeout
    ) throws(ConfigurationError) {
        // Each -F is one hop, in order, as in GOST.
        var chain: [ChainHop] = []
        for (index, text) in nodeURLs.enumerated() { chain.append(try ChainHop(parsing: text, isFirst: index == 0)) }
        if chain.count > 1, let index = chain.firstIndex(where: { $0.connector == .forward }) {
            throw ConfigurationError(.forwardHopInChain, origin: .nodeURL(nodeURLs[index]))
        }
        let forwardNode = ServiceURL.isLoneForwardNode(chain)
        let fileServices = file?.services ?? []
        var services = fileServices
        var origins: [String: String] = [:]
        var warnings = file?.warnings ?? []
        for service in fileServices {
            let place = file?.serviceOrigins[service.name].map(\.place) ?? service.name
            if let warning = Self.openProxyWarning(service, place: place, credentials: "handler.auth") {
                warnings.append(warning)
            }
        }
        for text in serviceURLs {
            let parsed = try ServiceURL.parse(text, chain: chain, firstIndex: services.count - fileServices.count)
            for service in parsed where fileServices.contains(where: { $0.name == service.name }) {
                throw ConfigurationError(
                    .conflict("the file also has a service named \(service.name); -L services are named service-0, "
                        + "service-1, ... as in GOST, so rename the file's"),
                    origin: .serviceURL(text))
            }
            for service in parsed { origins[service.name] = text }
            if forwardNode, ServiceURL.hasExplicitTargets(text) {
                warnings.append(
                    "-L \"\(text)\": its targets are ignored: with -F every connection goes to the -F node, as in "
                        + "GOST; write the service without targets (or with GOST's placeholder /:0) to say so")
            }
            if let proxy = parsed.first(where: { $0.kind == .proxy }),
                let warning = Self.openProxyWarning(proxy, place: "-L \"\(text)\"", credentials: "USER:PASS@")
            {
                warnings.append(warning)
            }
            services += parsed
        }
        var hopNodes: [(ChainHop.Connector, TargetAddress, ConfigurationError.Origin)] = []
        for (index, hop) in chain.enumerated() {
            hopNodes += hop.targets.map { (hop.connector, $0, .nodeURL(nodeURLs[index])) }
        }
        hopNodes += (file?.chainNodes ?? []).map { ($0.connector, $0.target, $0.origin) }
        try Self.refuseHopsIntoOwnServices(hopNodes, services: services)
        let commandLineServices = services[fileServices.count...]
        if let text = nodeURLs.first, !commandLineServices.contains(where: { $0.kind == .forward || $0.kind == .proxy })
        {
            let problem =
                file == nil
                ? "no service uses it; -F applies to tcp:// and proxy services"
                : "no -L service uses it; -F applies to the -L tcp:// and proxy services, not to the file's "
                    + "(they name a chain in handler.chain)"
            throw ConfigurationError(.conflict(problem), origin: .nodeURL(text))
        }
        if services.isEmpty, file != nil {
            throw ConfigurationError(
                .conflict("no service given; add services to the file or use -L tcp://:PORT/HOST:PORT"))
        }
        self.init(
            services: services,
            workers: workers,
            logLevel: logLevel ?? file?.logLevel ?? .info,
            metrics: metrics ?? file?.metrics,
            drainTimeout: drainTimeout
        )
        serviceOrigins = origins
        fileOrigins = file?.serviceOrigins ?? [:]
        if metrics == nil { metricsOrigin = file?.metricsOrigin }
        self.warnings = warnings
        try validate()
    }

    /// GOST says nothing; an open proxy on a public address is worth a line at start-up.
    /// `credentials` is how the service's spelling adds them.
    static func openProxyWarning(_ service: ServiceConfig, place: String, credentials: String) -> String? {
        guard service.kind == .proxy, service.credentials == nil, service.listen.host.map({ !$0.isLoopback }) ?? true
        else { return nil }
        return "\(place): a \(service.handler) proxy without \(credentials) that listens beyond loopback is an open "
            + "proxy to anything this host can reach, internal addresses included; add credentials, or "
            + "listen on 127.0.0.1 or behind a firewall"
    }

    /// A hop that is one of our own proxy services would nest connections without end.
    static func refuseHopsIntoOwnServices(
        _ nodes: [(ChainHop.Connector, TargetAddress, ConfigurationError.Origin)],
        services: [ServiceConfig]
    ) throws(ConfigurationError) {
        for (connector, node, origin) in nodes where connector != .forward {
            guard node.host.isEmpty || node.host == "localhost" || IPAddress(node.host)?.isLoopback == true else {
                continue
            }
            let own = services.first {
                $0.listen.port == node.port && ($0.listen.host.map { $0.isLoopback || $0.isUnspecified } ?? true)
            }
            if let own {
                throw ConfigurationError(
                    .conflict(
                        "\(node) is this process's own \(own.name) (\(own.listen)); a hop into itself loops until "
                            + "descriptors run out"),
                    origin: origin)
            }
        }
    }
}

extension ConfigurationError.Origin {
    /// The origin as the start of a message: `-L "..."`, `ringway.yaml:3:5: services[0]`, ...
    public var place: String {
        switch self {
        case .serviceURL(let text): return "-L \"\(text)\""
        case .nodeURL(let text): return "-F \"\(text)\""
        case .setting(let name): return name
        case .file(let path, let line, let column, let keyPath):
            return keyPath.isEmpty ? "\(path):\(line):\(column)" : "\(path):\(line):\(column): \(keyPath)"
        }
    }
}
