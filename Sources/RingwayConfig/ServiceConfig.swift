import ProxyProtocol

/// What one `-L` URL (or one YAML `services` entry) asks for, validated. The engine consumes this
/// and knows nothing of the text it came from.
///
/// GOST YAML (`services[i]`) for each field: `name`; `handler.type` `tcp`/`forward` with
/// `listener.type` `tcp` is `kind` `.forward`; `addr` is `listen`; `forwarder.nodes[*].addr` (older:
/// `forwarder.targets`) are `targets`; `metadata.proxyProtocol` and Ringway's `metadata.proxyProtocol*`
/// keys are `receiveProxy`; `handler.metadata.proxyProtocol` and `handler.metadata.proxyProtocolTLV.*`
/// are `sendProxy`; `metadata.dialTimeout` is `connectTimeout`; `handler.metadata.idleTimeout` is
/// `idleTimeout`; `metadata.maxConnections` and `handler.metadata.splice` are Ringway's own.
public struct ServiceConfig: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable {
        /// `tcp://` (and `rtcp://` without a chain): forward every connection to one of `targets`.
        case forward = "tcp"
        /// `auto://`, `http://`, `socks5://`, `socks4://`: connect each client where its request
        /// (HTTP CONNECT or absolute URI, SOCKS CONNECT) asks.
        case proxy = "proxy"
        /// `whoami://`: answer HTTP with the client address the service sees.
        case whoami = "whoami"
        /// Prometheus text of the engine's counters over HTTP (`--metrics ADDR`; not a -L scheme).
        case metrics = "metrics"
    }

    /// GOST names services `service-0`, `service-1`, ... in command-line order.
    public var name: String
    public var kind: Kind
    /// GOST's handler name, for logs (`tcp`, `rtcp`, `auto`, `http`, `socks5`, `socks4`, `whoami`).
    public var handler: String
    /// Proxy services: the client protocols spoken.
    public var proxyProtocols: ProxyHandlerProtocols
    /// Proxy services: the user and password clients must present (`user:pass@`); nil = anyone.
    public var credentials: Credentials?
    /// Proxy services: how long a client has, from accepting (after any PROXY header), to finish
    /// its request, SOCKS5 authentication included (`handshakeTimeout`).
    public var handshakeTimeout: Duration
    public var listen: ListenAddress
    /// Upstream nodes, tried in order (round-robin start per connection) until one connects: the
    /// targets, or through a chain the nodes of its first hop.
    public var targets: [TargetAddress]
    /// `-F` proxy hops (http, socks5, socks4) negotiated in order once the first hop's node
    /// answers; empty for a direct connection (or a lone forward node, which is `targets`).
    public var chain: [ChainHop] = []
    /// `tcp://` through a chain: the targets the last hop is asked to connect to (as written,
    /// names resolved by the hop).
    public var chainTargets: [TargetAddress] = []
    /// The name of `chain` in a configuration file (`handler.chain`), so `-O` prints it back; nil
    /// on the command line, where GOST calls its one chain `chain-0`.
    public var chainName: String?
    /// When `targets` are marked down and skipped, and the probe that checks them: the service's
    /// selector (`-L ...?maxFails=`, `forwarder.selector`), or through `-F` the first hop's.
    public var health = TargetHealthConfig()
    /// PROXY headers accepted from clients; nil when `proxyProtocol` is off.
    public var receiveProxy: ProxyReceiveConfig?
    /// PROXY header written to every upstream; nil when `handler.proxyProtocol` is off.
    public var sendProxy: ProxySendConfig?
    /// How long one upstream connect may take before the next node is tried (`dialTimeout`). The
    /// default is GOST's router default, 15 s.
    public var connectTimeout: Duration
    /// A connection with no bytes moving either way for this long is closed (`idleTimeout`);
    /// `.zero` means never (GOST's TCP forwarder has no idle timeout).
    public var idleTimeout: Duration
    /// Open connections of this service (all workers together) at which accepting pauses until
    /// one closes; nil = only the descriptor limit.
    public var maxConnections: Int?
    /// socket -> pipe -> socket instead of copying through user-space buffers.
    public var splice: Bool
    /// Built-in HTTP services (`whoami`, metrics): how long a client has to deliver each request,
    /// head and body, from its first byte (from accepting, for the first request). Unlike the
    /// idle timeout, bytes arriving do not extend it, so a request dribbled byte by byte ends.
    public var requestTimeout: Duration

    public static let defaultRequestTimeout = Duration.seconds(10)
    public static let defaultHandshakeTimeout = Duration.seconds(10)

    public init(
        name: String,
        kind: Kind,
        listen: ListenAddress,
        targets: [TargetAddress] = [],
        receiveProxy: ProxyReceiveConfig? = nil,
        sendProxy: ProxySendConfig? = nil,
        connectTimeout: Duration = .seconds(15),
        idleTimeout: Duration = .seconds(300),
        maxConnections: Int? = nil,
        splice: Bool = false,
        requestTimeout: Duration = defaultRequestTimeout,
        handler: String? = nil,
        proxyProtocols: ProxyHandlerProtocols = [],
        credentials: Credentials? = nil,
        handshakeTimeout: Duration = defaultHandshakeTimeout
    ) {
        self.name = name
        self.kind = kind
        self.handler = handler ?? (kind == .proxy ? "auto" : kind.rawValue)
        self.proxyProtocols = kind == .proxy && proxyProtocols.isEmpty ? .auto : proxyProtocols
        self.credentials = credentials
        self.handshakeTimeout = handshakeTimeout
        self.listen = listen
        self.targets = targets
        self.receiveProxy = receiveProxy
        self.sendProxy = sendProxy
        self.connectTimeout = connectTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.splice = splice
        self.requestTimeout = requestTimeout
    }
}

/// Where a service listens. A nil host means every address (a dual-stack `[::]` socket, or
/// `0.0.0.0` where IPv6 is off); GOST's `:8080` and `[::]:8080` both mean that, while
/// `0.0.0.0:8080` is IPv4 only (GOST listens with `tcp4`) and is kept as written.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: IPAddress?
    public var port: UInt16

    public init(host: IPAddress?, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String {
        guard let host else { return ":\(port)" }
        return IPEndpoint(address: host, port: port).description
    }
}

/// An upstream as written (`example.com:80`, `:8080`, `[::1]:9000`) and the addresses it
/// resolved to at start-up. An empty host means the local machine, as in GOST.
public struct TargetAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16
    /// Filled by name resolution before the engine starts; tried in order.
    public var resolved: [IPEndpoint]
    /// The node's name in a configuration file (`forwarder.nodes[].name`, a hop's `nodes[].name`),
    /// for logs and `-O`; nil on the command line, where GOST names nodes `target-0`, `node-0`, ...
    public var name: String?

    public init(host: String, port: UInt16, resolved: [IPEndpoint] = [], name: String? = nil) {
        self.host = host
        self.port = port
        self.resolved = resolved
        self.name = name
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// How a service treats PROXY headers from its clients (`proxyProtocol=1`).
public struct ProxyReceiveConfig: Hashable, Sendable {
    public enum Policy: String, Hashable, Sendable {
        /// GOST's behaviour: a header is used when present, a plain client proceeds as it is.
        case optional
        /// The spec's strict mode: no header, or a bad one, closes the connection.
        case require
    }

    public var policy: Policy
    /// Sources allowed to send a header; empty means anyone (GOST's default, warned at start-up).
    public var trustedProxies: [CIDR]
    /// How long a connection may take to deliver a complete header. The default is GOST's fixed
    /// 10 s (`ReadHeaderTimeout` of its PROXY listener).
    public var timeout: Duration
    /// Upper bound on a v2 header (16 + length) a peer can make us buffer
    /// (`proxyProtocolMaxHeader`, 232...65551).
    public var maximumHeaderLength: Int

    public init(
        policy: Policy = .optional,
        trustedProxies: [CIDR] = [],
        timeout: Duration = .seconds(10),
        maximumHeaderLength: Int = 4096
    ) {
        self.policy = policy
        self.trustedProxies = trustedProxies
        self.timeout = timeout
        self.maximumHeaderLength = maximumHeaderLength
    }

    /// Whether `source` may send a header.
    public func trusts(_ source: IPAddress) -> Bool {
        trustedProxies.isEmpty || trustedProxies.contains { $0.contains(source) }
    }
}

/// The PROXY header a service writes to each upstream (`handler.proxyProtocol=1|2`).
public struct ProxySendConfig: Hashable, Sendable {
    public enum Version: Int, Hashable, Sendable {
        case v1 = 1
        case v2 = 2
    }

    public var version: Version
    /// v2 only: a PP2_TYPE_UNIQUE_ID TLV with a per-connection id (also logged).
    public var uniqueID: Bool
    /// v2 only: a PP2_TYPE_CRC32C TLV over the whole header.
    public var crc32c: Bool
    /// v2 only: TLVs received from the client's PROXY header are forwarded.
    public var passthroughTLVs: Bool

    public init(version: Version, uniqueID: Bool = false, crc32c: Bool = false, passthroughTLVs: Bool = false) {
        self.version = version
        self.uniqueID = uniqueID
        self.crc32c = crc32c
        self.passthroughTLVs = passthroughTLVs
    }
}

extension ProxySendConfig {
    /// The longest header this configuration can write. `received` is the longest header the
    /// service accepts from clients (nil when it accepts none).
    ///
    /// Without passthrough: the fixed 16 bytes, an IPv6 address block (the larger family) and
    /// our own TLVs. With passthrough, received TLVs travel on; they come only in PROXY headers
    /// with addresses, and the block sent is never larger than the block received (the header's
    /// IPv4 or IPv6 addresses are reused; after an AF_UNIX block, the socket's IP endpoints are
    /// shorter), so addresses and TLVs together fit in what followed the received fixed part.
    public func largestHeaderLength(receivingUpTo received: Int?) -> Int {
        guard version == .v2 else { return ProxyHeaderEncoder.maximumV1Length }
        var body = 36
        if passthroughTLVs, let received { body = max(body, received - 16) }
        if uniqueID { body += 3 + 16 }
        if crc32c { body += 3 + 4 }
        return 16 + body
    }
}
