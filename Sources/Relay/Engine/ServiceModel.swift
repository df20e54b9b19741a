import ProxyProtocol
import RingwayConfig

/// What a worker needs of one service on the per-connection path, derived once at start-up.
/// Workers keep these in a buffer and read fields in place, so no connection event copies a
/// service's strings or arrays.
struct ServiceModel {
    let index: UInt16
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
    /// Where a connection's incoming bytes start in its scratch chunk: the bytes before it hold
    /// the outgoing PROXY header (forwarders) or the response being built (HTTP services).
    let incomingOffset: Int
    let incomingCapacity: Int

    /// Whether connections need a scratch chunk at all (plain forwarding needs none).
    var needsScratch: Bool { receive != nil || send != nil || kind != .forward }

    var scratchSize: Int { incomingOffset + incomingCapacity }

    init(index: Int, config: ServiceConfig) {
        self.index = UInt16(index)
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
        let receivedHeader = config.receiveProxy?.maximumHeaderLength ?? 0
        switch config.kind {
        case .forward:
            // Room for the largest header we may send, received TLVs passed through included.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (reserve + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, 4096)
        case .proxy:
            // Reply area, candidate addresses, then room for the header and a rewritten head.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (ProxyScratchLayout.candidatesEnd + reserve + ProxyScratchLayout.rewriteGrowth + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, ProxyScratchLayout.requestCapacity)
        case .whoami, .metrics:
            incomingOffset = HTTPResponder.responseCapacity + HTTPResponder.notesCapacity
            incomingCapacity = max(receivedHeader, HTTPResponder.requestCapacity)
        }
    }
}
