/// How a service's targets (or a `-F` hop's nodes) are marked down and brought back: GOST's
/// selector keys `maxFails` and `failTimeout`, and Ringway's own active TCP probe.
///
/// A target whose connects failed `maxFails` times in a row is skipped for `failTimeout`; after
/// that one connection may try it again, and any success brings it back at once. With a probe,
/// the same counts come from a TCP connect every `interval` as well.
///
/// GOST reads the selector from `forwarder.selector` (a hop's `selector` in chains) or from the
/// `-L`/`-F` query; without one it still marks nodes with `maxFails: 1` and `failTimeout: 10s`
/// (go-gost/x `selector.DefaultMaxFails`, `DefaultFailTimeout`). On the command line, a query
/// that sets any of `strategy`, `maxFails`, `failTimeout` makes GOST default the missing
/// `failTimeout` to 30s instead (`parseSelector` in go-gost/x `config/cmd`); Ringway does the same.
public struct TargetHealthConfig: Hashable, Sendable {
    /// Connect failures in a row that mark a target down (GOST: marked when the count reaches it).
    public var maxFails: Int
    /// How long a target marked down is skipped after its last failure.
    public var failTimeout: Duration
    /// Ringway's active TCP probe; nil = none (GOST's forwarder nodes have none).
    public var probe: TargetProbeConfig?

    public static let defaultMaxFails = 1
    /// GOST's `FailFilter` default, used whenever no failTimeout is given in a file.
    public static let defaultFailTimeout = Duration.seconds(10)
    /// GOST's command-line default when the query has selector keys but no failTimeout.
    public static let commandLineFailTimeout = Duration.seconds(30)

    public static let maxFailsRange = 1...Int(Int32.max)
    public static let minimumFailTimeout = Duration.milliseconds(1)

    public init(
        maxFails: Int = defaultMaxFails, failTimeout: Duration = defaultFailTimeout, probe: TargetProbeConfig? = nil
    ) {
        self.maxFails = maxFails
        self.failTimeout = failTimeout
        self.probe = probe
    }

    /// Whether `-O` has to write a selector for it (anything but GOST's defaults).
    var hasSelector: Bool { maxFails != Self.defaultMaxFails || failTimeout != Self.defaultFailTimeout }
}

/// Ringway's active health check: a TCP connect to each target every `interval`, bounded by
/// `timeout`. Its results count as a connection's connect would (a success brings the target
/// back, failures count toward `maxFails`).
public struct TargetProbeConfig: Hashable, Sendable {
    public var interval: Duration
    public var timeout: Duration

    /// Probes run from one thread; anything faster than this is a load test, not a check.
    public static let minimumInterval = Duration.milliseconds(100)
    public static let minimumTimeout = Duration.milliseconds(1)
    /// GOST's probe timeout default, never longer than the interval.
    public static func defaultTimeout(interval: Duration) -> Duration { min(.seconds(10), interval) }

    public init(interval: Duration, timeout: Duration? = nil) {
        self.interval = interval
        self.timeout = timeout ?? Self.defaultTimeout(interval: interval)
    }
}

/// The selector and probe keys of one service or hop as written, checked one by one and then
/// together. The `-L` query, the `-F` query and a file's selector all end here.
struct TargetHealthKeys {
    enum Key: CaseIterable {
        case maxFails, failTimeout, probeInterval, probeTimeout

        var name: String {
            switch self {
            case .maxFails: return "maxFails"
            case .failTimeout: return "failTimeout"
            case .probeInterval: return "probeInterval"
            case .probeTimeout: return "probeTimeout"
            }
        }

        /// GOST's command line also reads `max_fails` and `fail_timeout`.
        static func named(_ lowered: some StringProtocol) -> Key? {
            switch lowered {
            case "maxfails", "max_fails": return .maxFails
            case "failtimeout", "fail_timeout": return .failTimeout
            case "probeinterval": return .probeInterval
            case "probetimeout": return .probeTimeout
            default: return nil
            }
        }
    }

    private(set) var written: [Key: String] = [:]
    /// `strategy` was given: on the command line that makes GOST's failTimeout default 30s.
    var strategyWritten = false
    private var maxFails: Int?
    private var failTimeout: Duration?
    private var probeInterval: Duration?
    private var probeTimeout: Duration?

    var isEmpty: Bool { written.isEmpty }

    /// Whether a key of GOST's selector (not Ringway's probe keys) was written.
    var hasSelectorKeys: Bool { written[.maxFails] != nil || written[.failTimeout] != nil }

    /// The first key written, as spelled, for errors about where the keys belong.
    var firstWritten: String? { Key.allCases.lazy.compactMap { written[$0] }.first }

    mutating func apply(_ key: Key, written spelled: String, value: String) throws(ConfigurationProblem) {
        guard written[key] == nil else { throw .duplicateKey(spelled) }
        written[key] = spelled
        switch key {
        case .maxFails:
            maxFails = try ServiceSettings.integer(
                value, key: spelled, in: TargetHealthConfig.maxFailsRange, unit: " (failures in a row)")
        case .failTimeout:
            failTimeout = try Self.duration(
                value, key: spelled, atLeast: TargetHealthConfig.minimumFailTimeout,
                expected: "a duration of at least 1ms, e.g. 10s (GOST reads 0 as its default)")
        case .probeInterval:
            probeInterval = try Self.duration(
                value, key: spelled, atLeast: TargetProbeConfig.minimumInterval,
                expected: "a duration of at least 100ms, e.g. 5s")
        case .probeTimeout:
            probeTimeout = try Self.duration(
                value, key: spelled, atLeast: TargetProbeConfig.minimumTimeout,
                expected: "a duration of at least 1ms, e.g. 2s")
        }
    }

    /// The configuration these keys make. `commandLine`: they came from a `-L`/`-F` query, where
    /// GOST's missing failTimeout is 30s once any selector key (strategy included) is there.
    func make(commandLine: Bool) throws(ConfigurationProblem) -> TargetHealthConfig {
        var health = TargetHealthConfig()
        if let maxFails { health.maxFails = maxFails }
        if let failTimeout {
            health.failTimeout = failTimeout
        } else if commandLine && (strategyWritten || written[.maxFails] != nil) {
            health.failTimeout = TargetHealthConfig.commandLineFailTimeout
        }
        if let probeInterval {
            health.probe = TargetProbeConfig(interval: probeInterval, timeout: probeTimeout)
        } else if let spelled = written[.probeTimeout] {
            throw .requires(key: spelled, other: "probeInterval (the probe runs only with an interval)")
        }
        return health
    }

    /// Go duration syntax (a bare number is seconds, as GOST's metadata reads it) of at least `minimum`.
    static func duration(
        _ value: String, key: String, atLeast minimum: Duration, expected: String
    ) throws(ConfigurationProblem) -> Duration {
        let duration = try ServiceSettings.duration(value, key: key)
        guard duration >= minimum else { throw .badValue(key: key, value: value, expected: expected) }
        return duration
    }
}
