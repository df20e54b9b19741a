import ProxyProtocol

/// Where Prometheus metrics are served: GOST's `-metrics [HOST]:PORT[?path=/metrics]`, YAML
/// `metrics.addr` (and `metrics.path`). The engine answers at `/metrics` only, so another path is
/// refused rather than ignored.
public struct MetricsEndpoint: Hashable, Sendable {
    public var listen: ListenAddress
    /// How long a scraper has for each request (`?requestTimeout=`).
    public var requestTimeout: Duration

    public static let path = "/metrics"
    /// Scrapers connected at once; more wait in the listen backlog. A few are normal, hundreds
    /// are an attack on the relay's memory and descriptors.
    public static let maximumConnections = 64

    public init(listen: ListenAddress, requestTimeout: Duration = ServiceConfig.defaultRequestTimeout) {
        self.listen = listen
        self.requestTimeout = requestTimeout
    }

    /// Parses a `-metrics` argument. User names, other keys and host names are refused.
    public init(parsing text: String) throws(ConfigurationError) {
        do throws(ConfigurationProblem) {
            self = try MetricsEndpoint.parse(text.trimmingWhitespace)
        } catch {
            throw ConfigurationError(error, origin: .setting("-metrics \"\(text)\""))
        }
    }

    /// The engine's view: a `.metrics` service named `metrics`.
    public var service: ServiceConfig {
        ServiceConfig(
            name: "metrics", kind: .metrics, listen: listen, idleTimeout: .seconds(60),
            maxConnections: Self.maximumConnections, requestTimeout: requestTimeout)
    }

    private static func parse(_ text: String) throws(ConfigurationProblem) -> MetricsEndpoint {
        let url = try GOSTURL(text)
        if let scheme = url.scheme {
            throw .unsupportedScheme(scheme, meaning: nil, supported: ["[HOST]:PORT[?path=/metrics]"])
        }
        if url.hasUserInfo { throw .userInfoNotSupported }
        if let path = url.path, !path.isEmpty { throw .conflict("give the path as ?path=/\(path)") }
        var seen: Set<String> = []
        var endpoint = MetricsEndpoint(listen: try listenAddress(url.host))
        for item in try url.query.map(QueryItem.parse) ?? [] {
            guard seen.insert(item.key).inserted else { throw .duplicateKey(item.key) }
            switch item.key {
            case "path":
                guard item.value == path else {
                    throw .badValue(key: "path", value: item.value, expected: "\(path), the one path Ringway serves")
                }
            case "requestTimeout":
                endpoint.requestTimeout = try ServiceSettings.requestTimeout(item.value, key: item.key)
            default:
                throw .unknownKey(item.key, known: ["path", "requestTimeout"], hint: nil)
            }
        }
        return endpoint
    }

    /// `[HOST]:PORT` of the endpoint (`-metrics`, a file's `metrics.addr`): an IP address or
    /// nothing, one port.
    static func listenAddress(_ text: Substring) throws(ConfigurationProblem) -> ListenAddress {
        let address = try HostAndPorts(text, allowRange: false)
        return ListenAddress(host: try address.listenHost(), port: UInt16(address.ports.lowerBound))
    }
}
