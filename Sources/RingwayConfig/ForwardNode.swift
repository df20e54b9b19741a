/// A `-F` node Ringway can use: GOST's `forward` connector over its `tcp` dialer
/// (`-F forward://HOST:PORT` or `-F forward+tcp://HOST:PORT`), a hop that adds nothing to the bytes.
/// GOST then sends every connection of every service to that hop whatever target the service names
/// (the forward connector ignores the address it is asked for), so the node's addresses replace the
/// services' targets. Proxy-client hops (`http`, `socks5`, ...) are refused: Ringway speaks none.
///
/// YAML: `chains[0].hops[0].nodes[*].addr` with `connector.type: forward`, `dialer.type: tcp`; the
/// hop's `metadata.proxyProtocol` is `sendProxy`.
public struct ForwardNode: Hashable, Sendable {
    /// GOST's node group: `forward://a:1,b:2` is two nodes, tried like a service's targets.
    public var targets: [TargetAddress]
    /// `proxyProtocol=1|2` on the node: GOST's dialer writes a PROXY header to the node.
    public var sendProxy: ProxySendConfig.Version?

    public init(targets: [TargetAddress], sendProxy: ProxySendConfig.Version? = nil) {
        self.targets = targets
        self.sendProxy = sendProxy
    }

    public static let supportedSchemes = ["forward://", "forward+tcp://"]

    /// Parses one `-F` argument.
    public init(parsing text: String) throws(ConfigurationError) {
        do throws(ConfigurationProblem) {
            self = try ForwardNode.parse(text.trimmingWhitespace)
        } catch {
            throw ConfigurationError(error, origin: .nodeURL(text))
        }
    }

    private static func parse(_ text: String) throws(ConfigurationProblem) -> ForwardNode {
        let url = try GOSTURL(text)
        guard let scheme = url.scheme else {
            throw .missingScheme(meaning: "an HTTP proxy hop", use: "forward://HOST:PORT for a plain TCP hop")
        }
        guard scheme == "forward" || scheme == "forward+tcp" else {
            throw .unsupportedScheme(scheme, meaning: GOSTSchemes.nodeMeaning(scheme), supported: supportedSchemes)
        }
        if url.hasUserInfo { throw .userInfoNotSupported }
        if let path = url.path, !path.isEmpty {
            throw .conflict("a -F node takes no /TARGET part; the node itself receives the connections")
        }
        var targets: [TargetAddress] = []
        for entry in url.host.split(separator: ",", omittingEmptySubsequences: false) {
            guard !entry.isEmpty else {
                if url.host.isEmpty { throw .missingTarget(use: "forward://HOST:PORT[,HOST:PORT...]") }
                throw .emptyTarget
            }
            let address = try HostAndPorts(entry, allowRange: true)
            targets += address.expanded.map { TargetAddress(host: $0.host.written, port: $0.port) }
        }
        var node = ForwardNode(targets: targets)
        var seen: Set<String> = []
        for item in try url.query.map(QueryItem.parse) ?? [] {
            let (prefix, name) = splitHopPrefix(item.key)
            let lowered = name.lowercased()
            guard prefix == nil || prefix == "hop" else { throw unknown(item.key) }
            switch lowered {
            case "proxyprotocol":
                guard seen.insert(lowered).inserted else { throw .duplicateKey(item.key) }
                node.sendProxy = try ServiceSettings.version(item.value, key: item.key)
            case "strategy" where prefix == nil:
                guard seen.insert(lowered).inserted else { throw .duplicateKey(item.key) }
                guard ["round", "rr"].contains(item.value.lowercased()) else {
                    throw .badValue(key: item.key, value: item.value, expected: "round or rr")
                }
            default:
                if let hint = GOSTOnlyKeys.hint(for: lowered) { throw .unsupportedKey(item.key, hint: hint) }
                throw unknown(item.key)
            }
        }
        return node
    }

    private static func unknown(_ key: String) -> ConfigurationProblem {
        .unknownKey(key, known: ["proxyProtocol", "hop.proxyProtocol", "strategy"], hint: nil)
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
