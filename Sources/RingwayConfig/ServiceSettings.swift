import ProxyProtocol

/// The keys of one service as written, checked one by one, then checked together and turned into
/// `ServiceConfig`s. The `-L` query feeds it; a YAML loader can feed each `metadata:` map through
/// `apply(scope:name:value:)` with the map's scope.
struct ServiceSettings {
    let kind: ServiceConfig.Kind
    /// The scheme's handler name, for errors and logs (`http`, `rtcp`, ...).
    let handler: String
    private var written: [ServiceKey: String] = [:]

    private var receiveProxy: Bool?
    private var receivePolicy: ProxyReceiveConfig.Policy?
    private var trustedProxies: [CIDR]?
    private var receiveTimeout: Duration?
    private var receiveMaximumHeader: Int?
    private var sendVersion: ProxySendConfig.Version?
    private var uniqueIDTLV = false
    private var crc32cTLV = false
    private var passthroughTLVs = false
    private var dialTimeout: Duration?
    private var idleTimeout: Duration?
    private var maxConnections: Int?
    private var splice: Bool?
    private var requestTimeout: Duration?
    private var handshakeTimeout: Duration?
    private var health = TargetHealthKeys()
    /// The keys come from a `-L` query: GOST's command line defaults failTimeout differently.
    var commandLine = false

    /// A v2 header is 16 bytes plus a length; 232 holds the largest address block (two AF_UNIX paths).
    static let maximumHeaderRange = 232...(16 + 65535)
    static let maxConnectionsRange = 1...Int(Int32.max)
    static let minimumHeaderTimeout = Duration.milliseconds(1)
    /// GOST's router uses 15 s when its dial timeout is 0 or unset.
    static let defaultDialTimeout = Duration.seconds(15)

    init(kind: ServiceConfig.Kind, handler: String? = nil) {
        self.kind = kind
        self.handler = handler ?? kind.rawValue
    }

    /// One `-L` query key, scope prefix and all (`handler.proxyProtocol=2`).
    mutating func apply(key: String, value: String) throws(ConfigurationProblem) {
        try apply(ServiceKey.resolve(key), written: key, value: value)
    }

    /// One key from a metadata map of `scope` (YAML), or bare when `scope` is nil.
    mutating func apply(scope: MetadataScope?, name: String, value: String) throws(ConfigurationProblem) {
        let written = scope.map { "\($0.rawValue).\(name)" } ?? name
        try apply(key: written, value: value)
    }

    private mutating func apply(
        _ serviceKey: ServiceKey,
        written key: String,
        value: String
    ) throws(ConfigurationProblem) {
        guard written[serviceKey] == nil else { throw .duplicateKey(key) }
        if !serviceKey.applies(to: kind) { throw .keyNotForKind(key, kind: handler) }
        written[serviceKey] = key
        switch serviceKey {
        case .receiveProxy:
            receiveProxy = try Self.version(value, key: key) != nil
        case .receivePolicy:
            guard let policy = ProxyReceiveConfig.Policy(rawValue: value.lowercased()) else {
                throw .badValue(key: key, value: value, expected: "optional or require")
            }
            receivePolicy = policy
        case .trustedProxies:
            do throws(CIDRSyntaxError) {
                trustedProxies = try CIDR.parseList(value)
            } catch {
                throw .badCIDR(key: key, error)
            }
        case .receiveTimeout:
            let timeout = try Self.duration(value, key: key)
            // Below a millisecond the timer fires before any header can arrive (the timer wheel
            // ticks in milliseconds), which would switch detection off in practice.
            guard timeout >= Self.minimumHeaderTimeout else {
                throw .badValue(key: key, value: value, expected: "a duration of at least 1ms, e.g. 500ms or 5s")
            }
            receiveTimeout = timeout
        case .receiveMaximumHeader:
            receiveMaximumHeader = try Self.integer(value, key: key, in: Self.maximumHeaderRange, unit: " bytes")
        case .sendProxy:
            sendVersion = try Self.version(value, key: key)
        case .uniqueIDTLV:
            uniqueIDTLV = try Self.boolean(value, key: key)
        case .crc32cTLV:
            crc32cTLV = try Self.boolean(value, key: key)
        case .passthroughTLVs:
            passthroughTLVs = try Self.boolean(value, key: key)
        case .dialTimeout:
            let timeout = try Self.duration(value, key: key)
            guard timeout >= .zero else {
                throw .badValue(key: key, value: value, expected: "a duration of 0s or more")
            }
            dialTimeout = timeout == .zero ? Self.defaultDialTimeout : timeout
        case .idleTimeout:
            let timeout = try Self.duration(value, key: key)
            guard timeout >= .zero else {
                throw .badValue(key: key, value: value, expected: "a duration of 0s or more (0 = never)")
            }
            idleTimeout = timeout
        case .maxConnections:
            maxConnections = try Self.integer(value, key: key, in: Self.maxConnectionsRange, unit: "")
        case .splice:
            splice = try Self.boolean(value, key: key)
        case .requestTimeout:
            requestTimeout = try Self.requestTimeout(value, key: key)
        case .handshakeTimeout:
            handshakeTimeout = try Self.requestTimeout(value, key: key)
        case .strategy:
            guard ["round", "rr"].contains(value.lowercased()) else {
                throw .badValue(
                    key: key,
                    value: value,
                    expected: "round or rr (Ringway starts at the next target each time)"
                )
            }
            health.strategyWritten = true
        case .maxFails, .failTimeout, .probeInterval, .probeTimeout:
            guard let healthKey = serviceKey.healthKey else { return }
            try health.apply(healthKey, written: key, value: value)
        }
    }

    /// The first selector or probe key written, as spelled (nil: none).
    var firstHealthKey: String? { health.firstWritten }

    /// The service these settings describe, after the checks that need several keys. `node` is the
    /// `-F` hop, which may also ask for a PROXY header.
    func makeService(
        name: String,
        listen: ListenAddress,
        targets: [TargetAddress],
        node: ChainHop?
    ) throws(ConfigurationProblem) -> ServiceConfig {
        var service = ServiceConfig(name: name, kind: kind, listen: listen, targets: targets, handler: handler)
        service.receiveProxy = try makeReceiveConfig()
        service.sendProxy = try makeSendConfig(node: node)
        if let send = service.sendProxy {
            try checkHeaderFits(send, receivingUpTo: service.receiveProxy?.maximumHeaderLength)
        }
        if let dialTimeout { service.connectTimeout = dialTimeout }
        if let idleTimeout { service.idleTimeout = idleTimeout }
        service.maxConnections = maxConnections
        if let splice { service.splice = splice }
        if let requestTimeout { service.requestTimeout = requestTimeout }
        if let handshakeTimeout { service.handshakeTimeout = handshakeTimeout }
        service.health = try health.make(commandLine: commandLine)
        return service
    }

    /// A header the service must send but cannot encode would close connections at run time;
    /// refuse the configuration that allows one instead.
    private func checkHeaderFits(_ send: ProxySendConfig, receivingUpTo received: Int?) throws(ConfigurationProblem) {
        let largest = send.largestHeaderLength(receivingUpTo: received)
        let limit = ProxyHeaderDetector.maximumPossibleHeaderLength
        guard largest > limit, let received else { return }
        let allowed = received - (largest - limit)
        throw .conflict(
            "with proxyProtocolTLV.passthrough, a \(received)-byte received header plus the TLVs Ringway adds "
                + "makes the header sent upstream up to \(largest) bytes, over the \(limit) a PROXY v2 header can "
                + "hold; set proxyProtocolMaxHeader to \(allowed) or less"
        )
    }

    private func makeReceiveConfig() throws(ConfigurationProblem) -> ProxyReceiveConfig? {
        guard receiveProxy == true else {
            let dependents: [ServiceKey] = [.receivePolicy, .trustedProxies, .receiveTimeout, .receiveMaximumHeader]
            if let key = dependents.first(where: { written[$0] != nil }), let spelled = written[key] {
                throw .requires(key: spelled, other: "proxyProtocol=1 (receiving PROXY headers)")
            }
            return nil
        }
        var config = ProxyReceiveConfig()
        if let receivePolicy { config.policy = receivePolicy }
        if let trustedProxies { config.trustedProxies = trustedProxies }
        if let receiveTimeout { config.timeout = receiveTimeout }
        if let receiveMaximumHeader { config.maximumHeaderLength = receiveMaximumHeader }
        return config
    }

    private func makeSendConfig(node: ChainHop?) throws(ConfigurationProblem) -> ProxySendConfig? {
        // The -F node takes tcp:// services' connections only; whoami:// never connects anywhere.
        let node = kind == .forward ? node : nil
        if sendVersion != nil, node?.sendProxy != nil {
            throw .conflict(
                "handler.proxyProtocol and the -F node's proxyProtocol would both send a PROXY header; set one of them"
            )
        }
        let tlvKeys: [ServiceKey] = [.uniqueIDTLV, .crc32cTLV, .passthroughTLVs]
        let firstTLV = tlvKeys.first { written[$0] != nil }.flatMap { written[$0] }
        guard let version = sendVersion ?? node?.sendProxy else {
            if let firstTLV {
                throw .requires(key: firstTLV, other: "handler.proxyProtocol=2 (sending PROXY v2 headers)")
            }
            return nil
        }
        if version == .v1, let firstTLV {
            throw .requires(
                key: firstTLV,
                other: "PROXY protocol v2 (handler.proxyProtocol=2); v1 headers carry no TLVs"
            )
        }
        return ProxySendConfig(
            version: version,
            uniqueID: uniqueIDTLV,
            crc32c: crc32cTLV,
            passthroughTLVs: passthroughTLVs
        )
    }

    // MARK: Values, read as GOST's metadata helpers read them, but refusing what they would ignore.

    /// `0` off, `1` or `2` the version. (Receiving accepts both versions whichever is given.)
    static func version(_ value: String, key: String) throws(ConfigurationProblem) -> ProxySendConfig.Version? {
        switch value {
        case "":
            // GOST reads an empty value as 0 and silently turns the feature off: say so instead.
            throw .badValue(key: key, value: "", expected: "1 or 2 (an empty value would mean off in GOST; write 0 for that)")
        case "0": return nil
        case "1": return .v1
        case "2": return .v2
        default: throw .badValue(key: key, value: value, expected: "1 or 2 (0 = off)")
        }
    }

    /// Go's `strconv.ParseBool` spellings, plus `on`/`off`, any case.
    static func boolean(_ value: String, key: String) throws(ConfigurationProblem) -> Bool {
        switch value.lowercased() {
        case "1", "t", "true", "on", "yes": return true
        case "0", "f", "false", "off", "no": return false
        default: throw .badValue(key: key, value: value, expected: "true or false (also 1/0, on/off)")
        }
    }

    /// Go duration syntax, or a bare integer meaning seconds (GOST's `GetDuration` reads `30` as 30 s).
    static func duration(_ value: String, key: String) throws(ConfigurationProblem) -> Duration {
        do throws(DurationSyntaxError) {
            return try Duration(setting: value)
        } catch {
            throw .badDuration(key: key, error)
        }
    }

    /// A positive duration: the time a client of a built-in HTTP service has for each request.
    static func requestTimeout(_ value: String, key: String) throws(ConfigurationProblem) -> Duration {
        let timeout = try duration(value, key: key)
        guard timeout >= .milliseconds(1) else {
            throw .badValue(key: key, value: value, expected: "a duration of at least 1ms, e.g. 10s")
        }
        return timeout
    }

    static func integer(
        _ value: String,
        key: String,
        in range: ClosedRange<Int>,
        unit: String
    ) throws(ConfigurationProblem) -> Int {
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)\(unit)"
        guard !value.isEmpty, value.count <= 12, value.allSatisfy({ ("0"..."9").contains($0) }),
            let number = Int(value), range.contains(number)
        else { throw .badValue(key: key, value: value, expected: expected) }
        return number
    }
}
