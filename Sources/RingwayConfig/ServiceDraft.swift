import ProxyProtocol

/// One service as written, a `-L` URL or a file's `services[]` entry, with its keys checked one by
/// one, before the chain and the listen ports make `ServiceConfig`s of it. Both spellings end
/// here, so they get the same checks and the same values.
struct ServiceDraft {
    var kind: ServiceConfig.Kind
    /// GOST's handler name (`tcp`, `rtcp`, `auto`, `http`, ...).
    var handler: String
    var protocols: ProxyHandlerProtocols
    var credentials: Credentials?
    var settings: ServiceSettings
    /// The targets as written (port ranges expanded; port 0 is GOST's placeholder).
    var targets: [TargetAddress]

    /// One service per port, named by `name(offset)`. `chain` is the service's hops: a lone
    /// forward hop replaces the targets of a `tcp` service; proxy hops are negotiated in order.
    func makeServices(
        listenHost: IPAddress?,
        ports: [Int],
        chain: [ChainHop],
        name: (Int) -> String
    ) throws(ConfigurationProblem) -> [ServiceConfig] {
        let node = ServiceURL.isLoneForwardNode(chain) ? chain[0] : nil
        let proxyChain = node == nil ? chain : []
        if node == nil, targets.contains(where: { $0.port == 0 }) { throw ServiceURL.placeholderWithoutNode }
        if kind == .proxy, node != nil {
            throw .conflict(
                "a -F forward:// node would take every request of this \(handler) service whatever the client asked; "
                    + "use an http://, socks5:// or socks4:// hop to tunnel requests")
        }
        // Through -F Ringway connects to the first hop's nodes, which that hop's keys govern.
        if let key = settings.firstHealthKey, node != nil || !proxyChain.isEmpty {
            throw .conflict(
                "\(key): through a chain Ringway connects to the first hop's nodes, not to these targets, and marks "
                    + "only those down; put the selector and probe keys on the first hop (-F ...?\(key)=, or the "
                    + "hop's selector and its nodes' probe in a file)")
        }
        var services: [ServiceConfig] = []
        for (offset, port) in ports.enumerated() {
            let listen = ListenAddress(host: listenHost, port: UInt16(port))
            var serviceTargets: [TargetAddress] = []
            if kind == .forward, let node {
                serviceTargets = node.targets
            } else if kind == .forward {
                serviceTargets = try ServiceURL.targets(for: offset, of: ports.count, from: targets)
            }
            // Through a chain, Ringway dials the first hop; the last hop is asked for the targets.
            var chainTargets: [TargetAddress] = []
            if !proxyChain.isEmpty && kind != .whoami {
                chainTargets = serviceTargets
                serviceTargets = proxyChain[0].targets
            }
            var service = try settings.makeService(
                name: name(offset),
                listen: listen,
                targets: serviceTargets,
                node: node
            )
            if kind == .proxy {
                service.proxyProtocols = protocols
                service.credentials = credentials
            }
            if kind != .whoami {
                service.chain = proxyChain
                service.chainTargets = chainTargets
            }
            // The targets dialled are the -F hop's nodes: its selector and probe count.
            if let first = node ?? proxyChain.first, kind != .whoami { service.health = first.health }
            services.append(service)
        }
        return services
    }
}
