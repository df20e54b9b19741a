/// One `-F` hop: a group of nodes (`http://a:1,b:2` is two nodes, tried like a service's targets)
/// and the connector that speaks to them, as in GOST:
///
/// - `forward://HOST:PORT` (`forward+tcp://`): a plain TCP hop. As the only hop it replaces the
///   targets of every `tcp://` service: GOST's forward connector ignores the address it is asked
///   for, so every connection goes to the node.
/// - `http://[USER:PASS@]HOST:PORT` (also no scheme, GOST's default connector): HTTP `CONNECT`.
/// - `socks5://[USER:PASS@]HOST:PORT` (`socks://`): SOCKS5 CONNECT, with RFC 1929 credentials.
/// - `socks4://HOST:PORT` (`socks4a://`): SOCKS4 with an empty user id, the 4a form for names.
///
/// `proxyProtocol=1|2` (or `hop.proxyProtocol`) on a hop writes a PROXY header to it before
/// anything else: the real client as source, the service's own address as destination.
///
/// YAML: `chains[0].hops[i].nodes[*]` with `addr`, `connector.type`, `connector.auth`; the hop's
/// `metadata.proxyProtocol` is `sendProxy`.
public struct ChainHop: Hashable, Sendable {
    public enum Connector: String, Hashable, Sendable {
        case forward, http, socks5, socks4
    }

    public var connector: Connector
    public var targets: [TargetAddress]
    /// Presented to the hop (HTTP Basic, RFC 1929, the SOCKS4 user id).
    public var credentials: Credentials?
    public var sendProxy: ProxySendConfig.Version?
    /// The hop's name in a configuration file (`chains[].hops[].name`), for `-O`; nil on the
    /// command line, where GOST names hops `hop-0`, `hop-1`, ...
    public var name: String?
    /// How the hop's nodes are marked down (its selector) and probed. Only the first hop's
    /// count: Ringway connects to the first hop's nodes itself; later hops are reached through it.
    public var health = TargetHealthConfig()

    public init(
        _ connector: Connector = .forward, targets: [TargetAddress], credentials: Credentials? = nil,
        sendProxy: ProxySendConfig.Version? = nil, name: String? = nil
    ) {
        self.connector = connector
        self.targets = targets
        self.credentials = credentials
        self.sendProxy = sendProxy
        self.name = name
    }

    public static let supportedSchemes = [
        "forward://", "forward+tcp://", "http://", "socks5://", "socks://", "socks4://", "socks4a://",
    ]

    /// `scheme://host:port` of the hop's first node, for logs.
    public var description: String { "\(connector.rawValue)://\(targets.first?.description ?? "?")" }

    /// Parses one `-F` argument; `isFirst` for the first `-F`, the only hop whose nodes Ringway
    /// connects to itself (and so the only one that takes the selector and probe keys).
    public init(parsing text: String, isFirst: Bool = true) throws(ConfigurationError) {
        do throws(ConfigurationProblem) {
            self = try ChainHop.parse(text.trimmingWhitespace, isFirst: isFirst)
        } catch {
            throw ConfigurationError(error, origin: .nodeURL(text))
        }
    }

    private static func parse(_ text: String, isFirst: Bool) throws(ConfigurationProblem) -> ChainHop {
        let url = try GOSTURL(text)
        let connector = try connector(of: url.scheme)
        var credentials: Credentials?
        if let userInfo = url.userInfo {
            guard connector != .forward else { throw .userInfoNotSupported }
            credentials = try Credentials.parse(userInfo)
            if connector == .socks4 {
                throw .conflict("Ringway sends SOCKS4 hops an empty user id; remove USER@ (or use socks5:// with credentials)")
            }
        }
        if let path = url.path, !path.isEmpty {
            throw .conflict("a -F node takes no /TARGET part; the node itself receives the connections")
        }
        var targets: [TargetAddress] = []
        for entry in url.host.split(separator: ",", omittingEmptySubsequences: false) {
            guard !entry.isEmpty else {
                if url.host.isEmpty { throw .missingTarget(use: "\(connector.rawValue)://HOST:PORT[,HOST:PORT...]") }
                throw .emptyTarget
            }
            let address = try HostAndPorts(entry, allowRange: true)
            targets += address.expanded.map { TargetAddress(host: $0.host.written, port: $0.port) }
        }
        var hop = ChainHop(connector, targets: targets, credentials: credentials)
        var seen: Set<String> = []
        var health = TargetHealthKeys()
        for item in try url.query.map(QueryItem.parse) ?? [] {
            let (prefix, name) = splitHopPrefix(item.key)
            let lowered = name.lowercased()
            // GOST gives `node.x` to the hop's node, whose dialer writes the header: for one hop's
            // nodes that is the hop's header. Its connector and dialer read no proxyProtocol.
            if (prefix == "connector" || prefix == "dialer"), lowered == "proxyprotocol" {
                throw .keyOutOfScope(item.key, use: "proxyProtocol, hop.proxyProtocol or node.proxyProtocol (GOST's \(prefix ?? "") reads none)")
            }
            guard prefix == nil || prefix == "hop" || prefix == "node" else { throw unknown(item.key) }
            switch lowered {
            case "proxyprotocol":
                guard seen.insert(lowered).inserted else { throw .duplicateKey(item.key) }
                hop.sendProxy = try ServiceSettings.version(item.value, key: item.key)
            case "strategy" where prefix == nil:
                guard seen.insert(lowered).inserted else { throw .duplicateKey(item.key) }
                try checkStrategy(item.value, key: item.key)
                health.strategyWritten = true
            case _ where prefix == nil && TargetHealthKeys.Key.named(lowered) != nil:
                guard let key = TargetHealthKeys.Key.named(lowered) else { throw unknown(item.key) }
                guard isFirst else { throw laterHopHealth(item.key) }
                try health.apply(key, written: item.key, value: item.value)
            default:
                if let hint = GOSTOnlyKeys.hint(for: lowered) { throw .unsupportedKey(item.key, hint: hint) }
                throw unknown(item.key)
            }
        }
        if isFirst { hop.health = try health.make(commandLine: true) }
        return hop
    }

    /// A later hop's nodes are reached through the hop before it, which picks one: Ringway sees
    /// no connect to them to count.
    static func laterHopHealth(_ key: String) -> ConfigurationProblem {
        .conflict(
            "\(key) on a hop after the first: Ringway connects only to the first hop's nodes and marks only those "
                + "down; put \(key) on the first hop (the first -F, or hops[0] of the chain; the hop before this one "
                + "chooses among these nodes)")
    }

    /// GOST's connector for a scheme: no scheme is its `http` connector; `connector+tcp` is the
    /// connector over the only dialer Ringway has.
    private static func connector(of scheme: String?) throws(ConfigurationProblem) -> Connector {
        guard let scheme else { return .http }
        var name = scheme
        if let plus = scheme.firstIndex(of: "+") {
            guard scheme[scheme.index(after: plus)...] == "tcp" else {
                throw .unsupportedScheme(scheme, meaning: GOSTSchemes.nodeMeaning(scheme), supported: supportedSchemes)
            }
            name = String(scheme[..<plus])
        }
        guard let connector = connector(named: name) else {
            throw .unsupportedScheme(scheme, meaning: GOSTSchemes.nodeMeaning(scheme), supported: supportedSchemes)
        }
        return connector
    }

    /// GOST's node selection strategies Ringway has: round robin only.
    static func checkStrategy(_ value: String, key: String) throws(ConfigurationProblem) {
        guard ["round", "rr"].contains(value.lowercased()) else {
            throw .badValue(key: key, value: value, expected: "round or rr")
        }
    }

    /// GOST's connector names (a `-F` scheme without `+dialer`, a file's `connector.type`).
    static func connector(named name: String) -> Connector? {
        switch name {
        case "forward": return .forward
        case "http": return .http
        case "socks5", "socks": return .socks5
        case "socks4", "socks4a": return .socks4
        default: return nil
        }
    }

    /// The names `connector(named:)` knows, for errors.
    static let connectorNames = ["http", "socks5", "socks", "socks4", "socks4a", "forward"]

    private static func unknown(_ key: String) -> ConfigurationProblem {
        .unknownKey(
            key,
            known: ["proxyProtocol", "hop.proxyProtocol", "strategy", "maxFails", "failTimeout", "probeInterval", "probeTimeout"],
            hint: nil)
    }

    /// GOST routes `hop.x` to the hop and `node.x`/`connector.x`/`dialer.x` elsewhere; only the
    /// hop's keys mean anything here.
    private static func splitHopPrefix(_ key: String) -> (String?, Substring) {
        for prefix in ["hop", "node", "connector", "dialer"] where key.lowercased().hasPrefix(prefix + ".") {
            return (prefix, key.dropFirst(prefix.count + 1))
        }
        return (nil, Substring(key))
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and newlines (Go's `strings.TrimSpace`).
    var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
            let last = lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(self[first...last])
    }
}
