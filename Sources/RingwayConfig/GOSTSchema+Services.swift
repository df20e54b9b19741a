import ProxyProtocol

/// `services[]`: `name`, `addr`, `handler{type, chain, auth, metadata}`, `listener{type: tcp,
/// metadata}`, `forwarder{nodes[{name, addr}] | targets[], selector{strategy}}`, `metadata`.
/// The three `metadata` maps have GOST's scopes: the service's receives PROXY headers, the
/// handler's sends them, and each feeds `ServiceSettings` as a `-L` key of that scope would.
extension GOSTSchema {
    /// One service as read, with what the file's checks need besides.
    struct ReadService {
        var service: ServiceConfig
        var nameNode: SchemaNode
        /// The chain its handler names.
        var chain: String?
        var warnings: [String] = []
    }

    static func service(_ item: SchemaNode, chains: FileChains) throws(ConfigurationError) -> ReadService {
        let map = try item.mapping(Keys.service)
        let (name, nameNode) = try map.requiredString("name", expected: "a unique name, e.g. service-0")
        let (addr, addrNode) = try map.requiredString("addr", expected: "[HOST]:PORT to listen on, e.g. :8080")
        let listen = try addrNode.check { () throws(ConfigurationProblem) in try listenAddress(addr) }

        let handler = try map["handler"]?.mapping(Keys.handler)
        // GOST: no handler is its `auto` proxy; a handler needs its type.
        var type = "auto"
        if let handler {
            (type, _) = try handler.requiredString(
                "type", expected: "one of \(ServiceURL.handlerNames.joined(separator: ", "))")
        }
        guard let (kind, handlerName, protocols) = ServiceURL.kind(ofHandler: type.lowercased()) else {
            let place = handler?["type"] ?? item
            throw place.error(
                .unsupportedType(
                    type, of: "handler", meaning: GOSTSchemes.serviceMeaning(type.lowercased()),
                    supported: ServiceURL.handlerNames))
        }
        let listener = try map["listener"].map { node throws(ConfigurationError) in try tcpListener(node) }

        var settings = ServiceSettings(kind: kind, handler: handlerName)
        try apply(map["metadata"], scope: .service, to: &settings)
        try apply(handler?["metadata"], scope: .handler, to: &settings)
        try apply(listener?["metadata"], scope: .listener, to: &settings)

        var credentials: Credentials?
        if let auth = handler?["auth"] {
            guard kind == .proxy else {
                throw auth.error(
                    .conflict(
                        "\(withArticle(handlerName)) handler checks no credentials; only proxy handlers (auto, http, "
                            + "socks5, socks4) take auth"))
            }
            credentials = try GOSTSchema.credentials(auth)
        }

        var chain: [ChainHop] = []
        var chainName: String?
        var warnings: [String] = []
        if let chainNode = handler?["chain"] {
            let written = try chainNode.text(expected: "the name of one of chains[]")
            guard let named = chains[written] else {
                throw chainNode.error(.undefinedName(written, kind: "chain", defined: chains.names))
            }
            if kind == .whoami {
                throw chainNode.error(.conflict("a whoami handler answers by itself and dials nothing; remove chain"))
            }
            try chainNode.check { () throws(ConfigurationProblem) in
                try ServiceURL.checkRemoteForwarding(handler: handlerName, chain: named.hops)
            }
            chain = named.hops
            chainName = named.name
        }

        var targets: [TargetAddress] = []
        if let forwarder = map["forwarder"] {
            guard kind == .forward else {
                let does = kind == .whoami ? "answers by itself" : "connects where each client asks"
                throw forwarder.error(
                    .conflict("\(withArticle(handlerName)) handler \(does) and has no forwarder; remove it"))
            }
            targets = try forwarderTargets(forwarder, settings: &settings)
            if ServiceURL.isLoneForwardNode(chain), targets.contains(where: { $0.port != 0 }) {
                warnings.append(
                    "\(forwarder.origin.place): its nodes are ignored: every connection goes to the chain's forward "
                        + "node, as in GOST; remove forwarder to say so")
            }
        }
        if kind == .forward, targets.isEmpty, !ServiceURL.isLoneForwardNode(chain) {
            throw item.error(
                .missingKey(
                    "forwarder.nodes",
                    expected: "the targets, e.g. forwarder: {nodes: [{name: target-0, addr: 10.0.0.1:80}]}"
                ))
        }

        let draft = ServiceDraft(
            kind: kind, handler: handlerName, protocols: protocols, credentials: credentials, settings: settings,
            targets: targets)
        let made = try item.check { () throws(ConfigurationProblem) in
            try draft.makeServices(
                listenHost: listen.host, ports: [Int(listen.port)], chain: chain, name: { _ in name })
        }
        var service = made[0]
        if !service.chain.isEmpty { service.chainName = chainName }
        return ReadService(service: service, nameNode: nameNode, chain: chainName, warnings: warnings)
    }

    /// "an auto", "a tcp": handler names as they are read aloud.
    static func withArticle(_ handler: String) -> String {
        ["auto", "http", "rtcp"].contains(handler) ? "an \(handler)" : "a \(handler)"
    }

    /// `addr`: as a `-L` bind address, one port (a file names each service, so no port range).
    private static func listenAddress(_ addr: String) throws(ConfigurationProblem) -> ListenAddress {
        let bind = try HostAndPorts(Substring(addr), allowRange: true)
        guard bind.ports.count == 1 else {
            throw .conflict(
                "a port range makes one service per port on the command line; in a file, write one service per port")
        }
        return ListenAddress(host: try bind.listenHost(), port: UInt16(bind.ports.lowerBound))
    }

    /// `listener`, whose `type` must be `tcp`: Ringway listens on plain TCP only.
    private static func tcpListener(_ node: SchemaNode) throws(ConfigurationError) -> SchemaMapping {
        let listener = try node.mapping(Keys.listener)
        let (type, typeNode) = try listener.requiredString("type", expected: "tcp")
        guard type.lowercased() == "tcp" else {
            let lowered = type.lowercased()
            throw typeNode.error(
                .unsupportedType(
                    type, of: "listener",
                    meaning: GOSTSchemes.transportMeaning(lowered) ?? GOSTSchemes.serviceMeaning(lowered),
                    supported: ["tcp"]))
        }
        return listener
    }

    /// `forwarder`: `nodes[{name, addr}]` (or GOST's older `targets: [addr, ...]`) and the selector.
    private static func forwarderTargets(
        _ node: SchemaNode,
        settings: inout ServiceSettings
    ) throws(ConfigurationError) -> [TargetAddress] {
        let forwarder = try node.mapping(Keys.forwarder)
        if let selector = forwarder["selector"] {
            for entry in try selectorEntries(selector) {
                try entry.place.check { () throws(ConfigurationProblem) in
                    try settings.apply(key: entry.key, value: entry.text)
                }
            }
        }
        if forwarder["nodes"] != nil, let written = forwarder["targets"] {
            throw written.error(.conflict("give the targets once: as nodes, or as GOST's older targets list"))
        }
        var targets: [TargetAddress] = []
        for item in try forwarder["nodes"]?.items() ?? [] {
            let entry = try item.mapping(Keys.forwarderNode)
            let name = try entry.string("name")
            let (addr, addrNode) = try entry.requiredString("addr", expected: "HOST:PORT of the target")
            targets += try addrNode.check { () throws(ConfigurationProblem) in
                try expandedNodes(addr, name: name, allowZero: true)
            }
        }
        for item in try forwarder["targets"]?.items() ?? [] {
            let addr = try item.text(expected: "HOST:PORT of the target")
            targets += try item.check { () throws(ConfigurationProblem) in
                try expandedNodes(addr, name: nil, allowZero: true)
            }
        }
        if targets.isEmpty, try forwarder.string("name") != nil, let name = forwarder["name"] {
            throw name.error(
                .conflict(
                    "a forwarder without nodes names one of GOST's top-level hops, which Ringway does not read; "
                        + "list forwarder.nodes"))
        }
        return targets
    }

    /// One `metadata` map, each key fed to `ServiceSettings` in `scope` as a `-L` key would be.
    private static func apply(
        _ node: SchemaNode?,
        scope: MetadataScope,
        to settings: inout ServiceSettings
    ) throws(ConfigurationError) {
        guard let node else { return }
        for entry in try node.metadataEntries() {
            let (prefix, bare) = ServiceKey.split(entry.key)
            if let prefix {
                let map = prefix == .service ? "metadata" : "\(prefix.rawValue).metadata"
                throw entry.value.error(.keyOutOfScope(entry.key, use: "\(bare) in the service's \(map)"))
            }
            // GOST reads the selector's keys from the selector; in metadata they mean nothing to it.
            let lowered = entry.key.lowercased()
            if lowered == "strategy" || TargetHealthKeys.Key.named(lowered).map({ [.maxFails, .failTimeout].contains($0) }) == true {
                let name = TargetHealthKeys.Key.named(lowered)?.name ?? "strategy"
                throw entry.value.error(.keyOutOfScope(entry.key, use: "forwarder.selector.\(name)"))
            }
            try entry.value.check { () throws(ConfigurationProblem) in
                try settings.apply(scope: scope, name: entry.key, value: entry.text)
            }
        }
    }
}
