/// `chains[]`: `name`, `hops[]` with `name`, `selector` (`strategy`, `maxFails`, `failTimeout`),
/// `metadata.proxyProtocol` and `nodes[]` (`name`, `addr`, `connector{type, auth}`, `dialer{type:
/// tcp}`, `metadata`, `probe{type: tcp, interval, timeout}`), read into
/// the `ChainHop`s a `-F` per hop would give.
extension GOSTSchema {
    /// One `chains[]` entry as read.
    struct FileChain {
        var name: String
        var hops: [ChainHop]
        /// Each node with the place of its `addr`.
        var nodes: [FileConfiguration.ChainNode]
        var place: SchemaNode
    }

    /// The chains in written order, found by name.
    struct FileChains {
        var list: [FileChain] = []
        subscript(name: String) -> FileChain? { list.first { $0.name == name } }
        var names: [String] { list.map(\.name) }
    }

    static func readChains(_ node: SchemaNode) throws(ConfigurationError) -> FileChains {
        var chains = FileChains()
        for item in try node.items() {
            let map = try item.mapping(Keys.chain)
            let (name, nameNode) = try map.requiredString(
                "name", expected: "a name for handler.chain to use, e.g. chain-0")
            if chains[name] != nil { throw nameNode.error(.duplicateName(name, kind: "chain")) }
            guard let hopsNode = map["hops"], case let hopItems = try hopsNode.items(), !hopItems.isEmpty else {
                throw item.error(.missingKey("hops", expected: "a list of hops, each with nodes"))
            }
            var chain = FileChain(name: name, hops: [], nodes: [], place: item)
            for (position, hopItem) in hopItems.enumerated() {
                let (hop, nodes) = try hop(hopItem, isFirst: position == 0)
                if hopItems.count > 1, hop.connector == .forward { throw hopItem.error(.forwardHopInChain) }
                chain.hops.append(hop)
                chain.nodes += nodes
            }
            chains.list.append(chain)
        }
        return chains
    }

    /// What a node says about the hop it is in: Ringway's `ChainHop` has one of each for all its
    /// nodes, so the nodes of a hop must agree.
    private struct NodeProtocol: Equatable {
        var connector: ChainHop.Connector
        var credentials: Credentials?
        var sendProxy: ProxySendConfig.Version?
        var probe: TargetProbeConfig?
    }

    /// One hop. `isFirst`: the hop whose nodes Ringway connects to itself, the only one whose
    /// selector and probes mean something (later hops are reached through the one before).
    private static func hop(
        _ item: SchemaNode, isFirst: Bool
    ) throws(ConfigurationError) -> (ChainHop, [FileConfiguration.ChainNode]) {
        let map = try item.mapping(Keys.hop)
        let hopProxy = try proxyProtocol(inMetadata: map["metadata"])
        var health = TargetHealthKeys()
        if let selector = map["selector"] {
            for entry in try selectorEntries(selector) {
                try entry.place.check { () throws(ConfigurationProblem) in
                    guard let key = TargetHealthKeys.Key.named(entry.key.lowercased()) else {
                        try ChainHop.checkStrategy(entry.text, key: entry.key)
                        return
                    }
                    guard isFirst else { throw ChainHop.laterHopHealth(entry.key) }
                    try health.apply(key, written: entry.key, value: entry.text)
                }
            }
        }
        guard let nodesNode = map["nodes"], case let nodeItems = try nodesNode.items(), !nodeItems.isEmpty else {
            throw item.error(.missingKey("nodes", expected: "a list of nodes, each with addr"))
        }
        var agreed: NodeProtocol?
        var targets: [TargetAddress] = []
        var located: [FileConfiguration.ChainNode] = []
        for nodeItem in nodeItems {
            let node = try nodeItem.mapping(Keys.node)
            let name = try node.string("name")
            let (addr, addrNode) = try node.requiredString("addr", expected: "HOST:PORT of the proxy")
            let nodeProxy = try proxyProtocol(inMetadata: node["metadata"])
            let (connectorType, credentials) = try connector(node["connector"])
            var probe: TargetProbeConfig?
            if let probeNode = node["probe"] {
                guard isFirst else { throw probeNode.error(ChainHop.laterHopHealth("probe")) }
                probe = try Self.probe(probeNode)
            }
            // GOST: a node's own proxyProtocol wins; otherwise it inherits the hop's.
            let said = NodeProtocol(
                connector: connectorType, credentials: credentials,
                sendProxy: nodeProxy.isSet ? nodeProxy.version : hopProxy.version, probe: probe)
            if let dialer = node["dialer"] { try checkDialer(dialer) }
            if let agreed, agreed != said {
                throw nodeItem.error(
                    .conflict(
                        "this node's connector, auth, proxyProtocol or probe differs from the first node's of the hop; "
                            + "Ringway's hop speaks one connector with one auth and one proxyProtocol to all its "
                            + "nodes and probes them alike: make them the same, or put the node in a chain of its own"))
            }
            agreed = said
            let expanded = try addrNode.check { () throws(ConfigurationProblem) in
                try expandedNodes(addr, name: name, allowZero: false)
            }
            targets += expanded
            located += expanded.map {
                FileConfiguration.ChainNode(connector: said.connector, target: $0, origin: addrNode.origin)
            }
        }
        guard let agreed else { throw item.error(.missingKey("nodes", expected: "a list of nodes")) }
        var hop = ChainHop(
            agreed.connector, targets: targets, credentials: agreed.credentials, sendProxy: agreed.sendProxy,
            name: try map.string("name"))
        hop.health = try item.check { () throws(ConfigurationProblem) in try health.make(commandLine: false) }
        hop.health.probe = agreed.probe
        return (hop, located)
    }

    /// `connector`: `type` (GOST's default `http`) and `auth`.
    private static func connector(
        _ node: SchemaNode?
    ) throws(ConfigurationError) -> (ChainHop.Connector, Credentials?) {
        guard let node else { return (.http, nil) }
        let map = try node.mapping(Keys.connector)
        var connector = ChainHop.Connector.http
        if let type = try map.string("type"), let typeNode = map["type"] {
            guard let named = ChainHop.connector(named: type.lowercased()) else {
                throw typeNode.error(
                    .unsupportedType(
                        type, of: "connector", meaning: GOSTSchemes.nodeMeaning(type.lowercased()),
                        supported: ChainHop.connectorNames))
            }
            connector = named
        }
        guard let authNode = map["auth"] else { return (connector, nil) }
        switch connector {
        case .forward:
            throw authNode.error(.conflict("a forward hop is plain TCP and takes no auth; remove it"))
        case .socks4:
            throw authNode.error(
                .conflict("Ringway sends SOCKS4 hops an empty user id; remove auth (or use socks5 with credentials)"))
        case .http, .socks5:
            return (connector, try credentials(authNode))
        }
    }

    /// `dialer.type`: GOST's transports; Ringway dials plain TCP only.
    private static func checkDialer(_ node: SchemaNode) throws(ConfigurationError) {
        let map = try node.mapping(Keys.dialer)
        if let type = try map.string("type"), type.lowercased() != "tcp", let typeNode = map["type"] {
            throw typeNode.error(
                .unsupportedType(
                    type, of: "dialer", meaning: GOSTSchemes.transportMeaning(type.lowercased()), supported: ["tcp"]))
        }
    }

    /// A hop's or node's `metadata`: only `proxyProtocol` means something to Ringway there.
    private static func proxyProtocol(
        inMetadata node: SchemaNode?
    ) throws(ConfigurationError) -> (version: ProxySendConfig.Version?, isSet: Bool) {
        guard let node else { return (nil, false) }
        var result: (version: ProxySendConfig.Version?, isSet: Bool) = (nil, false)
        for entry in try node.metadataEntries() {
            let lowered = entry.key.lowercased()
            if let key = TargetHealthKeys.Key.named(lowered) {
                throw entry.value.error(
                    .keyOutOfScope(
                        entry.key,
                        use: key == .maxFails || key == .failTimeout
                            ? "the hop's selector.\(key.name) (Ringway has no per-node values)"
                            : "a probe block on each of the first hop's nodes (probe: {type: tcp, interval: 5s})"))
            }
            guard lowered == "proxyprotocol" else {
                if let hint = GOSTOnlyKeys.hint(for: lowered) {
                    throw entry.value.error(.unsupportedKey(entry.key, hint: hint))
                }
                throw entry.value.error(.unknownKey(entry.key, known: ["proxyProtocol"], hint: nil))
            }
            if result.isSet { throw entry.value.error(.duplicateKey(entry.key)) }
            result = (
                try entry.value.check { () throws(ConfigurationProblem) in
                    try ServiceSettings.version(entry.text, key: entry.key)
                }, true
            )
        }
        return result
    }

    /// `auth`: `username` and `password`, checked as a URL's `user:pass@` is.
    static func credentials(_ node: SchemaNode) throws(ConfigurationError) -> Credentials {
        let auth = try node.mapping(Keys.auth)
        let (user, _) = try auth.requiredString("username", expected: "the user name")
        let password = try auth.string("password") ?? ""
        return try node.check { () throws(ConfigurationProblem) in
            try Credentials.validated(user: user, password: password)
        }
    }

    /// A node's `addr`, a port range expanded as GOST expands a forwarder's (GOST itself does not
    /// expand ranges in chain nodes; Ringway does, as for `-F`): `name`, `name-1`, `name-2`, ...
    static func expandedNodes(_ addr: String, name: String?, allowZero: Bool) throws(ConfigurationProblem)
        -> [TargetAddress]
    {
        let address = try HostAndPorts(Substring(addr), allowRange: true, allowZero: allowZero)
        return address.expanded.enumerated().map { index, node in
            let nodeName = name.map { index == 0 ? $0 : "\($0)-\(index)" }
            return TargetAddress(host: node.host.written, port: node.port, name: nodeName)
        }
    }
}
