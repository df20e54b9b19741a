/// What one configuration file (`-C`, GOST's schema) says, each part checked, before it is merged
/// with the command line by `RingwayConfiguration(file:serviceURLs:...)`. Process flags
/// (`--workers`, `--drain-timeout`, the buffer sizes) have no place in the file.
public struct FileConfiguration: Hashable, Sendable {
    public var services: [ServiceConfig]
    /// `log.level`; nil when the file does not set it.
    public var logLevel: LogLevel?
    /// `metrics.addr`; nil when the file serves no metrics.
    public var metrics: MetricsEndpoint?
    /// Things that work but are probably not what was meant (a chain no service uses).
    public var warnings: [String]
    /// Where each service stands (by name), so errors found later, with the command line's
    /// services beside them, still point into the file.
    public var serviceOrigins: [String: ConfigurationError.Origin]
    /// Where `metrics` stands.
    public var metricsOrigin: ConfigurationError.Origin?
    /// Every node of the chains in use, with its place, for the check that no hop is one of this
    /// process's own services (which needs the command line's services too).
    public var chainNodes: [ChainNode]

    /// One node of a hop and where its `addr` is written.
    public struct ChainNode: Hashable, Sendable {
        public var connector: ChainHop.Connector
        public var target: TargetAddress
        public var origin: ConfigurationError.Origin

        public init(connector: ChainHop.Connector, target: TargetAddress, origin: ConfigurationError.Origin) {
            self.connector = connector
            self.target = target
            self.origin = origin
        }
    }

    public init(
        services: [ServiceConfig] = [],
        logLevel: LogLevel? = nil,
        metrics: MetricsEndpoint? = nil,
        warnings: [String] = [],
        serviceOrigins: [String: ConfigurationError.Origin] = [:],
        metricsOrigin: ConfigurationError.Origin? = nil,
        chainNodes: [ChainNode] = []
    ) {
        self.services = services
        self.logLevel = logLevel
        self.metrics = metrics
        self.warnings = warnings
        self.serviceOrigins = serviceOrigins
        self.metricsOrigin = metricsOrigin
        self.chainNodes = chainNodes
    }
}
