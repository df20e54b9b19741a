import ProxyProtocol
import RingwayConfig

/// What a worker needs of one service on the per-connection path, derived once at start-up.
struct ServiceRuntime {
    let index: UInt16
    let config: ServiceConfig
    let detector: ProxyHeaderDetector?
    let headerTimeoutMilliseconds: UInt64
    let idleTimeoutMilliseconds: UInt64
    /// Built-in HTTP services: the time each request has, from its first byte.
    let requestTimeoutMilliseconds: UInt64
    /// Where a connection's incoming bytes start in its scratch chunk. The bytes before it hold
    /// the outgoing PROXY header (forwarders) or the response being built (HTTP services).
    let incomingOffset: Int
    let incomingCapacity: Int
    /// Whether the listener is bound to a wildcard address, so the address a client dialled
    /// must be read from its socket.
    let wildcardListener: Bool

    var needsScratch: Bool {
        config.receiveProxy != nil || config.sendProxy != nil || config.kind != .forward
    }

    init(index: Int, config: ServiceConfig) {
        self.index = UInt16(index)
        self.config = config
        if let receive = config.receiveProxy {
            detector = ProxyHeaderDetector(maximumHeaderLength: receive.maximumHeaderLength)
            headerTimeoutMilliseconds = receive.timeout.milliseconds
        } else {
            detector = nil
            headerTimeoutMilliseconds = 0
        }
        idleTimeoutMilliseconds = config.idleTimeout.milliseconds
        requestTimeoutMilliseconds = max(config.requestTimeout.milliseconds, 1)
        wildcardListener = config.listen.host == nil
        let receivedHeader = config.receiveProxy?.maximumHeaderLength ?? 0
        switch config.kind {
        case .forward:
            // Room for the largest header we may send: v2 addresses, our TLVs, and received
            // TLVs passed through.
            let reserve = config.sendProxy?.largestHeaderLength(receivingUpTo: config.receiveProxy?.maximumHeaderLength) ?? 0
            incomingOffset = (reserve + 63) / 64 * 64
            incomingCapacity = max(receivedHeader, 4096)
        case .whoami, .metrics:
            incomingOffset = HTTPResponder.responseCapacity + HTTPResponder.notesCapacity
            incomingCapacity = max(receivedHeader, HTTPResponder.requestCapacity)
        }
    }

    var scratchSize: Int { incomingOffset + incomingCapacity }
}
