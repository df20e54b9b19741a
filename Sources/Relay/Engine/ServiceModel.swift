import ProxyProtocol
import RingwayConfig

/// What a worker needs of one service on the per-connection path, derived once at start-up.
/// Workers keep these in a buffer and read fields in place, so no connection event copies a
/// service's strings or arrays.
struct ServiceModel {
    /// The service slot its connections count under (listener, counters, places).
    let slot: UInt16
    let kind: ServiceConfig.Kind
    /// For logs: the service's name, and its listen address as configured.
    let name: String
    let listenText: String
    /// Bound to every address, so the address a client dialled must be read from its socket.
    let wildcardListener: Bool
    let receive: ProxyReceiveConfig?
    let detector: ProxyHeaderDetector?
    let send: ProxySendConfig?
    let splice: Bool
    let maxConnections: Int?
    let headerTimeoutMilliseconds: UInt64
    let idleTimeoutMilliseconds: UInt64
    /// Built-in HTTP services: the time each request has, from its first byte.
    let requestTimeoutMilliseconds: UInt64
    /// Proxy services: the protocols spoken, the credentials clients must present, and the
    /// time a client has to finish its request.
    let proxyProtocols: ProxyHandlerProtocols
    let credentials: ProxyCredentials?
    let handshakeTimeoutMilliseconds: UInt64
    /// GOST's handler name for logs.
    let handler: String
    /// `-F` proxy hops negotiated after the first hop's node answered, and for `tcp://` the
    /// destinations the last hop is asked for (round robin).
    let chain: [HopModel]
    let chainTargets: [TargetAddress]
    /// `!chain.isEmpty`, read on every connection without touching the array.
    let chained: Bool
    /// The name of each of `targets` for logs (`node`): as the file named it, else GOST's
    /// command-line names, `target-N` for targets and `node-N` for a first hop's nodes.
    let nodeNames: [String]
    /// The lowest byte of the scratch chunk a preamble may use: below lie the reply area,
    /// candidates and hop negotiation.
    let scratchFloor: Int
    let connectTimeoutMilliseconds: UInt64
    /// The health of `targets` (shared with every worker and the prober); nil for services that
    /// dial no configured targets, and where a caller only sizes memory.
    let health: TargetHealthView?
    /// Where a connection's incoming bytes start in its scratch chunk: the bytes before it hold
    /// the outgoing PROXY header (forwarders) or the response being built (HTTP services).
    let incomingOffset: Int
    let incomingCapacity: Int

    /// Whether connections need a scratch chunk at all (plain forwarding needs none).
    var needsScratch: Bool { receive != nil || send != nil || kind != .forward || chained }

    var scratchSize: Int { incomingOffset + incomingCapacity }

    init(slot: Int, config: ServiceConfig, health: TargetHealthView? = nil) {
        self.slot = UInt16(slot)
        self.health = health.flatMap { $0.count > 0 ? $0 : nil }
        kind = config.kind
        name = config.name
        listenText = config.listen.description
        wildcardListener = config.listen.host == nil
        receive = config.receiveProxy
        detector = config.receiveProxy.map { ProxyHeaderDetector(maximumHeaderLength: $0.maximumHeaderLength) }
        send = config.sendProxy
        splice = config.splice
        maxConnections = config.maxConnections
        headerTimeoutMilliseconds = config.receiveProxy?.timeout.milliseconds ?? 0
        idleTimeoutMilliseconds = config.idleTimeout.milliseconds
        requestTimeoutMilliseconds = max(config.requestTimeout.milliseconds, 1)
        proxyProtocols = config.proxyProtocols
        credentials = config.credentials.map { ProxyCredentials(user: Array($0.user.utf8), password: Array($0.password.utf8)) }
        handshakeTimeoutMilliseconds = max(config.handshakeTimeout.milliseconds, 1)
        handler = config.handler
        chain = config.chain.map(HopModel.init)
        chainTargets = config.chainTargets
        chained = !config.chain.isEmpty
        let prefix = config.chain.isEmpty ? "target" : "node"
        nodeNames = config.targets.enumerated().map { $0.element.name ?? "\(prefix)-\($0.offset)" }
        connectTimeoutMilliseconds = max(config.connectTimeout.milliseconds, 1)
        scratchFloor = config.chain.isEmpty
            ? (config.kind == .proxy ? ProxyScratchLayout.candidatesEnd : 0) : ProxyScratchLayout.negotiationEnd
        let receivedHeader = config.receiveProxy?.maximumHeaderLength ?? 0
        switch config.kind {
        case .forward:
            // Room for the largest header we may send, received TLVs passed through included.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (scratchFloor + reserve + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, 4096)
        case .proxy:
            // Reply area, candidate addresses, then room for the header and a rewritten head.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (scratchFloor + reserve + ProxyScratchLayout.rewriteGrowth + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, ProxyScratchLayout.requestCapacity)
        case .whoami, .metrics:
            incomingOffset = HTTPResponder.responseCapacity + HTTPResponder.notesCapacity
            incomingCapacity = max(receivedHeader, HTTPResponder.requestCapacity)
        }
    }
}

/// One `-F` proxy hop as a worker uses it: the connector, the nodes (the first hop's are dialled
/// through the endpoint table; later hops' are asked for by the hop before), the credentials as
/// bytes, and whether a PROXY header goes first.
struct HopModel {
    let connector: ChainHop.Connector
    let nodes: [TargetAddress]
    let credentials: ProxyCredentials?
    let sendProxy: ProxySendConfig.Version?
    /// `http://10.0.0.1:3128` for logs.
    let description: String

    init(_ hop: ChainHop) {
        connector = hop.connector
        nodes = hop.targets
        credentials = hop.credentials.map { ProxyCredentials(user: Array($0.user.utf8), password: Array($0.password.utf8)) }
        sendProxy = hop.sendProxy
        description = hop.description
    }
}
