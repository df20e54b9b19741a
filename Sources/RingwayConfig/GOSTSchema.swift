/// GOST v3's configuration file schema, read into Ringway's model (`fileConfiguration`) and
/// written back from it (`render`, for `-O`). Every value goes through the validators of the URL
/// grammar, so a file and a command line that say the same thing give the same `ServiceConfig`
/// and the same errors, with the file's line, column and key path in front.
///
/// Read: `services` (see `service(_:chains:)`), `chains`, `log.level`, `metrics.addr`/`path`.
/// Every other key GOST has is refused with a hint; unknown keys list the known ones.
public enum GOSTSchema {
    /// Maps a parsed document (`null` for an empty file). `source` names the file in errors.
    public static func fileConfiguration(
        from root: ConfigNode,
        source: String
    ) throws(ConfigurationError) -> FileConfiguration {
        let document = SchemaNode(node: root, path: "", source: source)
        let top = try document.mapping(Keys.top)
        var file = FileConfiguration()
        let chains = try top["chains"].map { node throws(ConfigurationError) in try readChains(node) } ?? FileChains()
        var usedChains: Set<String> = []
        var names: [String: SchemaNode] = [:]
        for item in try top["services"]?.items() ?? [] {
            let read = try service(item, chains: chains)
            if names[read.service.name] != nil {
                throw read.nameNode.error(.duplicateName(read.service.name, kind: "service"))
            }
            names[read.service.name] = read.nameNode
            file.services.append(read.service)
            file.serviceOrigins[read.service.name] = item.origin
            file.warnings += read.warnings
            if let used = read.chain { usedChains.insert(used) }
        }
        for chain in chains.list {
            if usedChains.contains(chain.name) {
                file.chainNodes += chain.nodes
            } else {
                file.warnings.append("\(chain.place.origin.place): chain \(chain.name) is used by no service")
            }
        }
        if let log = top["log"] { file.logLevel = try logLevel(log) }
        if let metrics = top["metrics"] {
            file.metrics = try metricsEndpoint(metrics)
            file.metricsOrigin = metrics.origin
        }
        return file
    }

    /// `log`: `level`; `format: json` and `output: stderr` are what Ringway does anyway.
    private static func logLevel(_ node: SchemaNode) throws(ConfigurationError) -> LogLevel? {
        let log = try node.mapping(Keys.log)
        if let format = try log.string("format"), format.lowercased() != "json", let place = log["format"] {
            throw place.error(
                .badValue(key: "format", value: format, expected: "json (Ringway writes JSON lines only)"))
        }
        if let output = try log.string("output"), output.lowercased() != "stderr", let place = log["output"] {
            throw place.error(
                .badValue(
                    key: "output", value: output,
                    expected: "stderr (Ringway logs to standard error; redirect it where it should go)"))
        }
        guard let text = try log.string("level"), let place = log["level"] else { return nil }
        guard let level = LogLevel(name: text) else {
            throw place.error(
                .badValue(key: "level", value: text, expected: "trace, debug, info, warn, error or fatal"))
        }
        return level
    }

    /// `metrics`: `addr` as `-metrics` takes it, `path` only `/metrics`, and Ringway's own
    /// `requestTimeout`.
    private static func metricsEndpoint(_ node: SchemaNode) throws(ConfigurationError) -> MetricsEndpoint {
        let metrics = try node.mapping(Keys.metrics)
        let (addr, addrNode) = try metrics.requiredString("addr", expected: "[HOST]:PORT, e.g. 127.0.0.1:9000")
        var endpoint = MetricsEndpoint(
            listen: try addrNode.check { () throws(ConfigurationProblem) in
                try MetricsEndpoint.listenAddress(Substring(addr))
            })
        if let path = try metrics.string("path"), path != MetricsEndpoint.path, let place = metrics["path"] {
            throw place.error(
                .badValue(key: "path", value: path, expected: "\(MetricsEndpoint.path), the one path Ringway serves"))
        }
        if let text = try metrics.string("requestTimeout"), let place = metrics["requestTimeout"] {
            endpoint.requestTimeout = try place.check { () throws(ConfigurationProblem) in
                try ServiceSettings.requestTimeout(text, key: "requestTimeout")
            }
        }
        return endpoint
    }
}
