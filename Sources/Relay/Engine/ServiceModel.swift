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
        let receivedHeader = config.receiveProxy?.maximumHeaderLength ?? 0
        switch config.kind {
        case .forward:
            // Room for the largest header we may send, received TLVs passed through included.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (reserve + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, 4096)
        case .whoami, .metrics:
            incomingOffset = HTTPResponder.responseCapacity + HTTPResponder.notesCapacity
            incomingCapacity = max(receivedHeader, HTTPResponder.requestCapacity)
        }
    }
}
