/// `-O`: a configuration written back in GOST's schema, so `fileConfiguration(from:)` reads the
/// same services from it. Keys are printed in GOST's order and only where they differ from the
/// defaults; unnamed chains, hops and nodes get GOST's command-line names (`chain-0`, `hop-0`,
/// `node-0`, `target-0`). Process flags (`--workers`, `--drain-timeout`, buffers) are not part of
/// the file and are not printed.
extension GOSTSchema {
    public static func render(_ configuration: RingwayConfiguration) -> ConfigNode {
        var chains = ChainNames(taken: Set(configuration.services.compactMap(\.chainName)))
        var services: [ConfigNode] = []
        // The metrics endpoint is `metrics:`, not a service.
        for service in configuration.services where service.kind != .metrics {
            let chain = service.chain.isEmpty ? nil : chains.name(for: service.chain, preferred: service.chainName)
            services.append(render(service, chain: chain))
        }
        var top: [(String, ConfigNode)] = [("services", .list(services))]
        if !chains.list.isEmpty {
            top.append(("chains", .list(chains.list.map { render(chain: $0.hops, named: $0.name) })))
        }
        if configuration.logLevel != .info {
            top.append(("log", .map([("level", .string(configuration.logLevel.description))])))
        }
        if let metrics = configuration.metrics {
            var entries: [(String, ConfigNode)] = [("addr", .string(metrics.listen.description))]
            if metrics.requestTimeout != ServiceConfig.defaultRequestTimeout {
                entries.append(("requestTimeout", .string(metrics.requestTimeout.goDescription)))
            }
            top.append(("metrics", .map(entries)))
        }
        return .map(top)
    }

    /// One chain per distinct hop list; a chain keeps its file name when it has one.
    private struct ChainNames {
        var taken: Set<String>
        var list: [(name: String, hops: [ChainHop])] = []
        private var generated = 0

        init(taken: Set<String>) { self.taken = taken }

        mutating func name(for hops: [ChainHop], preferred: String?) -> String {
            if let found = list.first(where: { $0.hops == hops && (preferred == nil || $0.name == preferred) }) {
                return found.name
            }
            var name = preferred ?? ""
            if name.isEmpty || list.contains(where: { $0.name == name }) {
                repeat {
                    name = "chain-\(generated)"
                    generated += 1
                } while taken.contains(name) || list.contains(where: { $0.name == name })
            }
            list.append((name, hops))
            return name
        }
    }

    private static func render(_ service: ServiceConfig, chain: String?) -> ConfigNode {
        var handler: [(String, ConfigNode)] = [("type", .string(service.handler))]
        if let chain { handler.append(("chain", .string(chain))) }
        if let credentials = service.credentials { handler.append(("auth", render(credentials))) }
        let handlerMetadata = metadata(of: service, in: .handler)
        if !handlerMetadata.isEmpty { handler.append(("metadata", .map(handlerMetadata))) }

        var entries: [(String, ConfigNode)] = [
            ("name", .string(service.name)),
            ("addr", .string(service.listen.description)),
            ("handler", .map(handler)),
            ("listener", .map([("type", .string("tcp"))])),
        ]
        if service.kind == .forward {
            // Through a chain the targets are what the last hop is asked for.
            let targets = service.chain.isEmpty ? service.targets : service.chainTargets
            let nodes = targets.enumerated().map { index, target in
                ConfigNode.map([
                    ("name", .string(target.name ?? "target-\(index)")), ("addr", .string(target.description)),
                ])
            }
            var forwarder: [(String, ConfigNode)] = []
            // Through a chain the hop's selector counts, written with the hop.
            if service.chain.isEmpty, service.health.hasSelector {
                forwarder.append(("selector", renderSelector(service.health)))
            }
            forwarder.append(("nodes", .list(nodes)))
            entries.append(("forwarder", .map(forwarder)))
        }
        let serviceMetadata = metadata(of: service, in: .service)
        if !serviceMetadata.isEmpty { entries.append(("metadata", .map(serviceMetadata))) }
        return .map(entries)
    }

    /// The `metadata` keys of `scope` whose values differ from the defaults, as `-L` spells them.
    private static func metadata(of service: ServiceConfig, in scope: MetadataScope) -> [(String, ConfigNode)] {
        var entries: [(String, ConfigNode)] = []
        func add(_ key: ServiceKey, _ value: ConfigNode) {
            if key.home == scope, key.applies(to: service.kind) { entries.append((key.name, value)) }
        }
        let defaults = ServiceConfig(name: "", kind: service.kind, listen: service.listen)
        if let receive = service.receiveProxy {
            let standard = ProxyReceiveConfig()
            // Receiving accepts both versions whichever is given.
            add(.receiveProxy, .plain("1"))
            if receive.policy != standard.policy { add(.receivePolicy, .string(receive.policy.rawValue)) }
            if !receive.trustedProxies.isEmpty {
                add(.trustedProxies, .list(receive.trustedProxies.map { .string($0.description) }))
            }
            if receive.timeout != standard.timeout { add(.receiveTimeout, .string(receive.timeout.goDescription)) }
            if receive.maximumHeaderLength != standard.maximumHeaderLength {
                add(.receiveMaximumHeader, .plain(String(receive.maximumHeaderLength)))
            }
        }
        if let send = service.sendProxy {
            add(.sendProxy, .plain(String(send.version.rawValue)))
            if send.uniqueID { add(.uniqueIDTLV, .plain("true")) }
            if send.crc32c { add(.crc32cTLV, .plain("true")) }
            if send.passthroughTLVs { add(.passthroughTLVs, .plain("true")) }
        }
        if service.connectTimeout != defaults.connectTimeout {
            add(.dialTimeout, .string(service.connectTimeout.goDescription))
        }
        if service.idleTimeout != defaults.idleTimeout { add(.idleTimeout, .string(service.idleTimeout.goDescription)) }
        if let maxConnections = service.maxConnections { add(.maxConnections, .plain(String(maxConnections))) }
        if service.splice { add(.splice, .plain("true")) }
        if service.requestTimeout != defaults.requestTimeout {
            add(.requestTimeout, .string(service.requestTimeout.goDescription))
        }
        if service.handshakeTimeout != defaults.handshakeTimeout {
            add(.handshakeTimeout, .string(service.handshakeTimeout.goDescription))
        }
        if service.chain.isEmpty, let probe = service.health.probe {
            add(.probeInterval, .string(probe.interval.goDescription))
            if probe.timeout != TargetProbeConfig.defaultTimeout(interval: probe.interval) {
                add(.probeTimeout, .string(probe.timeout.goDescription))
            }
        }
        return entries
    }

    private static func render(chain hops: [ChainHop], named name: String) -> ConfigNode {
        let renderedHops = hops.enumerated().map { index, hop in
            var connector: [(String, ConfigNode)] = [("type", .string(hop.connector.rawValue))]
            if let credentials = hop.credentials { connector.append(("auth", render(credentials))) }
            let nodes = hop.targets.enumerated().map { nodeIndex, target in
                var node: [(String, ConfigNode)] = [
                    ("name", .string(target.name ?? "node-\(nodeIndex)")),
                    ("addr", .string(target.description)),
                    ("connector", .map(connector)),
                    ("dialer", .map([("type", .string("tcp"))])),
                ]
                // GOST 3.3's node probe block, the same on every node of the hop.
                if let probe = hop.health.probe {
                    node.append((
                        "probe",
                        .map([
                            ("type", .string("tcp")), ("interval", .string(probe.interval.goDescription)),
                            ("timeout", .string(probe.timeout.goDescription)),
                        ])
                    ))
                }
                return ConfigNode.map(node)
            }
            var entries: [(String, ConfigNode)] = [("name", .string(hop.name ?? "hop-\(index)"))]
            if hop.health.hasSelector { entries.append(("selector", renderSelector(hop.health))) }
            entries.append(("nodes", .list(nodes)))
            if let version = hop.sendProxy {
                entries.append(("metadata", .map([("proxyProtocol", .plain(String(version.rawValue)))])))
            }
            return ConfigNode.map(entries)
        }
        return .map([("name", .string(name)), ("hops", .list(renderedHops))])
    }

    /// GOST's selector with the values that differ from its defaults.
    private static func renderSelector(_ health: TargetHealthConfig) -> ConfigNode {
        var entries: [(String, ConfigNode)] = []
        if health.maxFails != TargetHealthConfig.defaultMaxFails {
            entries.append(("maxFails", .plain(String(health.maxFails))))
        }
        if health.failTimeout != TargetHealthConfig.defaultFailTimeout {
            entries.append(("failTimeout", .string(health.failTimeout.goDescription)))
        }
        return .map(entries)
    }

    private static func render(_ credentials: Credentials) -> ConfigNode {
        var entries: [(String, ConfigNode)] = [("username", .string(credentials.user))]
        if !credentials.password.isEmpty { entries.append(("password", .string(credentials.password))) }
        return .map(entries)
    }
}
