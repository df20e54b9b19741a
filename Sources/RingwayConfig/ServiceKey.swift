/// GOST's metadata scopes. In a `-L` query, `handler.x` goes to the handler's metadata only,
/// `listener.x` to the listener's, `service.x` to the service's, and a bare `x` to all three
/// (`buildServiceConfig` in go-gost/x `config/cmd`), except `proxyProtocol`, which GOST moves to the
/// service alone. In YAML each `metadata:` map has its scope by where it stands.
public enum MetadataScope: String, Hashable, Sendable, CaseIterable {
    case service
    case handler
    case listener
}

/// The Ringway setting a `-L` key names. Each has one home scope: the scope whose GOST component
/// reads it, so a bare key always reaches it and a prefix naming another scope is a mistake.
enum ServiceKey: Hashable, CaseIterable {
    case receiveProxy
    case receivePolicy
    case trustedProxies
    case receiveTimeout
    case receiveMaximumHeader
    case sendProxy
    case uniqueIDTLV
    case crc32cTLV
    case passthroughTLVs
    case dialTimeout
    case idleTimeout
    case maxConnections
    case splice
    case strategy
    case requestTimeout
    case handshakeTimeout
    case maxFails
    case failTimeout
    case probeInterval
    case probeTimeout

    /// The key as documented, without a scope prefix.
    var name: String {
        switch self {
        case .receiveProxy, .sendProxy: return "proxyProtocol"
        case .receivePolicy: return "proxyProtocolPolicy"
        case .trustedProxies: return "trustedProxies"
        case .receiveTimeout: return "proxyProtocolTimeout"
        case .receiveMaximumHeader: return "proxyProtocolMaxHeader"
        case .uniqueIDTLV: return "proxyProtocolTLV.uniqueId"
        case .crc32cTLV: return "proxyProtocolTLV.crc32c"
        case .passthroughTLVs: return "proxyProtocolTLV.passthrough"
        case .dialTimeout: return "dialTimeout"
        case .idleTimeout: return "idleTimeout"
        case .maxConnections: return "maxConnections"
        case .splice: return "splice"
        case .strategy: return "strategy"
        case .requestTimeout: return "requestTimeout"
        case .handshakeTimeout: return "handshakeTimeout"
        case .maxFails: return "maxFails"
        case .failTimeout: return "failTimeout"
        case .probeInterval: return "probeInterval"
        case .probeTimeout: return "probeTimeout"
        }
    }

    /// The selector and probe keys, which `TargetHealthKeys` reads.
    var healthKey: TargetHealthKeys.Key? {
        switch self {
        case .maxFails: return .maxFails
        case .failTimeout: return .failTimeout
        case .probeInterval: return .probeInterval
        case .probeTimeout: return .probeTimeout
        default: return nil
        }
    }

    /// nil for the forwarder's selector keys, which GOST reads before scoping: bare only. The
    /// probe keys are Ringway's own and live in the service's metadata.
    var home: MetadataScope? {
        switch self {
        case .receiveProxy, .receivePolicy, .trustedProxies, .receiveTimeout, .receiveMaximumHeader,
            .dialTimeout, .maxConnections, .probeInterval, .probeTimeout:
            return .service
        case .sendProxy, .uniqueIDTLV, .crc32cTLV, .passthroughTLVs, .idleTimeout, .splice, .requestTimeout,
            .handshakeTimeout:
            return .handler
        case .strategy, .maxFails, .failTimeout:
            return nil
        }
    }

    /// The spelling that needs no explanation: `handler.proxyProtocol` for sending.
    var displayName: String { self == .sendProxy ? "handler.proxyProtocol" : name }

    /// Whether the key means something for a service of `kind`: `whoami://` receives but never
    /// connects upstream; `tcp://` relays bytes it never parses; a proxy service connects where
    /// each client asks, so it has no targets to choose among.
    func applies(to kind: ServiceConfig.Kind) -> Bool {
        switch (self, kind) {
        case (.receiveProxy, _), (.receivePolicy, _), (.trustedProxies, _), (.receiveTimeout, _),
            (.receiveMaximumHeader, _), (.idleTimeout, _), (.maxConnections, _):
            return true
        case (.requestTimeout, .whoami), (.requestTimeout, .metrics):
            return true
        case (.handshakeTimeout, .proxy):
            return true
        case (.sendProxy, .forward), (.uniqueIDTLV, .forward), (.crc32cTLV, .forward), (.passthroughTLVs, .forward),
            (.dialTimeout, .forward), (.splice, .forward), (.strategy, .forward):
            return true
        // A proxy service's upstreams are whatever clients ask for; through -F, the hop's keys count.
        case (.maxFails, .forward), (.failTimeout, .forward), (.probeInterval, .forward), (.probeTimeout, .forward):
            return true
        // A proxy service writes its header after the handshake, when the received one is gone:
        // no passthrough.
        case (.sendProxy, .proxy), (.uniqueIDTLV, .proxy), (.crc32cTLV, .proxy), (.dialTimeout, .proxy), (.splice, .proxy):
            return true
        default:
            return false
        }
    }

    static let knownNames: [String] = allCases.map(\.displayName)

    /// Applies GOST's scope rule to `written` (`handler.proxyProtocol`, `dialTimeout`, ...). Key
    /// names and prefixes match case-insensitively, as GOST's metadata lookups do.
    static func resolve(_ written: String) throws(ConfigurationProblem) -> ServiceKey {
        let (scope, name) = split(written)
        // GOST's command line also reads `max_fails` and `fail_timeout`.
        let lowered = aliases[name.lowercased()] ?? name.lowercased()
        let candidates = allCases.filter { $0.name.lowercased() == lowered }
        guard !candidates.isEmpty else {
            if let hint = GOSTOnlyKeys.hint(for: lowered) { throw .unsupportedKey(written, hint: hint) }
            throw .unknownKey(written, known: knownNames, hint: misspellings[lowered])
        }
        guard let scope else {
            // Bare: GOST moves `proxyProtocol` to the service (receiving); others have one home.
            return candidates.first { $0.home == .service } ?? candidates[0]
        }
        if let match = candidates.first(where: { $0.home == scope }) { return match }
        if candidates.contains(.receiveProxy) {
            throw .keyOutOfScope(written, use: "proxyProtocol=1 to receive or handler.proxyProtocol=1|2 to send")
        }
        let key = candidates[0]
        guard let home = key.home else { throw .keyOutOfScope(written, use: "\(key.name) without a prefix") }
        throw .keyOutOfScope(written, use: "\(key.name) or \(home.rawValue).\(key.name)")
    }

    /// `handler.x` is (handler, x); `x` is (nil, x).
    static func split(_ written: String) -> (MetadataScope?, Substring) {
        if let dot = written.firstIndex(of: "."),
            let scope = MetadataScope(rawValue: written[..<dot].lowercased())
        {
            return (scope, written[written.index(after: dot)...])
        }
        return (nil, Substring(written))
    }

    private static let aliases = ["max_fails": "maxfails", "fail_timeout": "failtimeout"]

    /// Names people reach for that mean one of ours.
    private static let misspellings: [String: String] = [
        "connecttimeout": "dialTimeout", "timeout": "dialTimeout", "dial.timeout": "dialTimeout",
        "readtimeout": "idleTimeout", "maxconns": "maxConnections", "maxconn": "maxConnections",
        "trustedproxy": "trustedProxies", "proxyprotocolversion": "handler.proxyProtocol",
        "sendproxyprotocol": "handler.proxyProtocol", "maxfail": "maxFails", "healthcheck": "probeInterval",
        "probe": "probeInterval", "checkinterval": "probeInterval",
    ]
}

/// GOST options Ringway recognizes but does not implement, so the error says so rather than
/// calling them unknown.
enum GOSTOnlyKeys {
    static func hint(for loweredName: String) -> String? {
        if let hint = hints[loweredName] { return hint }
        if loweredName.hasPrefix("limiter.") || loweredName.hasPrefix("observer.") || loweredName.hasPrefix("tls.")
            || loweredName.hasPrefix("sniffing") || loweredName.hasPrefix("mitm.")
        {
            return "remove it"
        }
        return nil
    }

    private static let hints: [String: String] = [
        "climiter": "GOST closes connections over the limit; Ringway leaves them queued until a slot frees: use maxConnections=N",
        "rlimiter": "remove it (no rate limiting)",
        "retries": "Ringway tries each target once per connection, then the next one (maxFails and failTimeout mark "
            + "failing targets down)",
        "interface": "remove it", "so_mark": "remove it", "netns": "remove it", "netns.out": "remove it",
        "bypass": "remove it", "admission": "remove it", "resolver": "remove it (the system resolver is used)",
        "hosts": "remove it (the system resolver reads /etc/hosts)", "auth": "remove it", "dns": "remove it",
        "cert": "remove it (no TLS)", "key": "remove it (no TLS)", "ca": "remove it (no TLS)",
        "certfile": "remove it (no TLS)", "keyfile": "remove it (no TLS)", "cafile": "remove it (no TLS)",
        "keepalive": "remove it (UDP only)", "ttl": "remove it (UDP only)", "readbuffersize": "remove it (UDP only)",
        "ignorechain": "remove it", "enablestats": "remove it", "preup": "remove it", "predown": "remove it",
        "postup": "remove it", "postdown": "remove it", "mptcp": "remove it", "backlog": "remove it",
        "http.keepalive": "remove it (no sniffing)", "labels": "remove it",
    ]
}
