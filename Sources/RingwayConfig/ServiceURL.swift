import ProxyProtocol

/// GOST's `-L` grammar for the services Ringway serves:
///
///     tcp://[BIND_HOST]:PORT/TARGET_HOST:TARGET_PORT[,TARGET...][?key=value&...]
///     rtcp://[BIND_HOST]:PORT/TARGET_HOST:TARGET_PORT[...]     (GOST's rtcp without a chain: as tcp://)
///     auto|http|socks5|socks4://[USER:PASS@][BIND_HOST]:PORT[?key=value&...]
///     [BIND_HOST]:PORT[?key=value&...]                          (no scheme: GOST's auto proxy)
///     whoami://[BIND_HOST]:PORT[?key=value&...]
///
/// An empty bind host (or `[::]`) listens on every address; `0.0.0.0` on every IPv4 address only
/// (GOST listens with `tcp4` then). IPv6 literals go in brackets. A port may be a range `LOW-HIGH`:
/// in the bind address it makes one service per port (named in order), in a target one target
/// per port; a range of N bind ports with N targets maps port i to target i, as GOST does. An empty
/// target host means the local machine. `tcp+tcp://`, `forward://` and `forward+tcp://` mean the
/// same as `tcp://`.
public enum ServiceURL {
    public static let supportedSchemes = [
        "tcp://", "tcp+tcp://", "forward://", "forward+tcp://", "rtcp://", "auto://", "http://", "socks5://",
        "socks://", "socks4://", "socks4a://", "whoami://",
    ]

    /// The services one `-L` argument defines, named `service-<firstIndex>`, `service-<firstIndex+1>`,
    /// ... (GOST numbers services across all `-L` arguments). `node` is the `-F` hop, if any: its
    /// addresses replace the targets of `tcp://` services.
    public static func parse(
        _ text: String,
        chain: [ChainHop] = [],
        firstIndex: Int = 0
    ) throws(ConfigurationError) -> [ServiceConfig] {
        do throws(ConfigurationProblem) {
            return try parse(trimmed: text.trimmingWhitespace, chain: chain, firstIndex: firstIndex)
        } catch {
            throw ConfigurationError(error, origin: .serviceURL(text))
        }
    }

    private static func parse(
        trimmed text: String,
        chain: [ChainHop],
        firstIndex: Int
    ) throws(ConfigurationProblem) -> [ServiceConfig] {
        let url = try GOSTURL(text)
        let (kind, handler, protocols) = try kind(of: url.scheme)
        var credentials: Credentials?
        if let userInfo = url.userInfo {
            guard kind == .proxy else { throw .userInfoNotSupported }
            credentials = try Credentials.parse(userInfo)
        }
        try checkRemoteForwarding(handler: handler, chain: chain)

        let bind = try HostAndPorts(url.host, allowRange: true)
        let host = try bind.listenHost()

        var settings = ServiceSettings(kind: kind, handler: handler)
        settings.commandLine = true
        for item in try url.query.map(QueryItem.parse) ?? [] {
            try settings.apply(key: item.key, value: item.value)
        }

        // GOST trims every leading and trailing '/' off the path before splitting targets.
        let targetList = url.path.map { $0.trimmingCharacters(equalTo: "/") } ?? ""
        if kind != .forward && !targetList.isEmpty { throw .unexpectedTargets(kind: handler) }
        let written = try targets(in: targetList, placeholderAllowed: isLoneForwardNode(chain))
        let draft = ServiceDraft(
            kind: kind, handler: handler, protocols: protocols, credentials: credentials, settings: settings,
            targets: written)
        return try draft.makeServices(
            listenHost: host, ports: Array(bind.ports), chain: chain, name: { "service-\(firstIndex + $0)" })
    }

    /// GOST's remote forwarding needs a hop that can BIND; Ringway has none.
    static func checkRemoteForwarding(handler: String, chain: [ChainHop]) throws(ConfigurationProblem) {
        if handler == "rtcp", !chain.isEmpty {
            throw .conflict(
                "rtcp:// through a -F chain is GOST's remote port forwarding, which needs a hop that supports BIND; "
                    + "Ringway serves rtcp:// only without -F, as a local tcp:// forward")
        }
    }

    /// A lone forward hop replaces tcp:// services' targets (GOST's forward connector ignores the
    /// address asked for); proxy hops negotiate a tunnel to it.
    static func isLoneForwardNode(_ chain: [ChainHop]) -> Bool {
        chain.count == 1 && chain[0].connector == .forward
    }

    /// Whether a `-L` argument that parses names targets of its own (not GOST's `/:0` placeholder),
    /// which a `-F` node replaces.
    static func hasExplicitTargets(_ text: String) -> Bool {
        guard let url = try? GOSTURL(text.trimmingWhitespace), let path = url.path else { return false }
        let list = path.trimmingCharacters(equalTo: "/")
        guard let targets = try? targets(in: list, placeholderAllowed: true) else { return false }
        return targets.contains { $0.port != 0 }
    }

    /// What a scheme serves: the kind, GOST's handler name, and for proxies the protocols.
    private static func kind(
        of scheme: String?
    ) throws(ConfigurationProblem) -> (ServiceConfig.Kind, String, ProxyHandlerProtocols) {
        // GOST: no scheme is its `auto` handler over a `tcp` listener.
        guard let scheme else { return (.proxy, "auto", .auto) }
        // `handler+listener`: the only listener Ringway has is tcp.
        var handler = scheme
        if let plus = scheme.firstIndex(of: "+") {
            guard scheme[scheme.index(after: plus)...] == "tcp" else {
                throw .unsupportedScheme(scheme, meaning: GOSTSchemes.serviceMeaning(scheme), supported: supportedSchemes)
            }
            handler = String(scheme[..<plus])
        }
        guard let kind = kind(ofHandler: handler) else {
            throw .unsupportedScheme(scheme, meaning: GOSTSchemes.serviceMeaning(scheme), supported: supportedSchemes)
        }
        return kind
    }

    /// What a GOST handler name serves (a `-L` scheme without `+listener`, a file's `handler.type`).
    static func kind(ofHandler handler: String) -> (ServiceConfig.Kind, String, ProxyHandlerProtocols)? {
        switch handler {
        case "tcp", "forward": return (.forward, "tcp", [])
        case "rtcp": return (.forward, "rtcp", [])
        case "auto": return (.proxy, "auto", .auto)
        case "http": return (.proxy, "http", .http)
        case "socks5", "socks": return (.proxy, "socks5", .socks5)
        case "socks4", "socks4a": return (.proxy, "socks4", .socks4)
        case "whoami": return (.whoami, "whoami", [])
        default: return nil
        }
    }

    /// The names `kind(ofHandler:)` knows, for errors.
    static let handlerNames = ["tcp", "forward", "rtcp", "auto", "http", "socks5", "socks", "socks4", "socks4a", "whoami"]

    /// The comma-separated targets with port ranges expanded. Port 0 is GOST's placeholder
    /// (`tcp://:8080/:0`), meaningful only when a `-F` node receives the connections.
    static func targets(
        in list: Substring,
        placeholderAllowed: Bool
    ) throws(ConfigurationProblem) -> [TargetAddress] {
        guard !list.isEmpty else { return [] }
        var targets: [TargetAddress] = []
        for entry in list.split(separator: ",", omittingEmptySubsequences: false) {
            guard !entry.isEmpty else { throw .emptyTarget }
            let address = try HostAndPorts(entry, allowRange: true, allowZero: true)
            if address.ports == 0...0 && !placeholderAllowed { throw placeholderWithoutNode }
            targets += address.expanded.map { TargetAddress(host: $0.host.written, port: $0.port) }
        }
        return targets
    }

    static let placeholderWithoutNode = ConfigurationProblem.conflict(
        "target port 0 is GOST's placeholder for a -F forward://HOST:PORT node; give a port 1-65535")

    /// GOST's rule for a bind port range: one target serves every port, else port i gets target i.
    static func targets(
        for offset: Int,
        of portCount: Int,
        from targets: [TargetAddress]
    ) throws(ConfigurationProblem) -> [TargetAddress] {
        if targets.isEmpty {
            throw .missingTarget(use: "tcp://:PORT/HOST:PORT, or one -F forward://HOST:PORT for every service")
        }
        if portCount == 1 { return targets }
        if targets.count == 1 { return targets }
        guard targets.count == portCount else {
            throw .conflict(
                "a bind port range maps its i-th port to the i-th target: \(portCount) ports need 1 or "
                    + "\(portCount) targets, not \(targets.count)"
            )
        }
        // GOST names the targets of one -L across the whole list: port i's is target-i.
        var target = targets[offset]
        if target.name == nil { target.name = "target-\(offset)" }
        return [target]
    }
}

extension Substring {
    /// Without any leading or trailing `character` (Go's `strings.Trim` with one character).
    func trimmingCharacters(equalTo character: Character) -> Substring {
        guard let first = firstIndex(where: { $0 != character }),
            let last = lastIndex(where: { $0 != character })
        else { return self[endIndex...] }
        return self[first...last]
    }
}
