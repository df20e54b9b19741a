/// `selector` (a forwarder's or a hop's) and GOST 3.3's node `probe` block, read into the same
/// keys the `-L`/`-F` queries give.
extension GOSTSchema {
    /// The selector's keys as written (`strategy`, `maxFails`, `failTimeout`), with their places.
    static func selectorEntries(_ node: SchemaNode) throws(ConfigurationError) -> [(key: String, text: String, place: SchemaNode)] {
        let selector = try node.mapping(Keys.selector)
        var entries: [(key: String, text: String, place: SchemaNode)] = []
        for key in Keys.selector.known {
            guard let text = try selector.string(key), let place = selector[key] else { continue }
            if key == "failTimeout" { try requireUnit(text, place) }
            entries.append((key, text, place))
        }
        return entries
    }

    /// A node's `probe`: `type: tcp` (GOST's default), `interval` and `timeout`. GOST's tcp probe
    /// connects to the node itself and needs `addr` only to switch on; Ringway accepts it and
    /// connects to the node as GOST does.
    static func probe(_ node: SchemaNode) throws(ConfigurationError) -> TargetProbeConfig {
        let probe = try node.mapping(Keys.probe)
        if let type = try probe.string("type"), type.lowercased() != "tcp", let place = probe["type"] {
            throw place.error(
                .unsupportedType(
                    type, of: "probe",
                    meaning: ["http", "cmd"].contains(type.lowercased()) ? "GOST 3.3's \(type.lowercased()) probe" : nil,
                    supported: ["tcp"]))
        }
        var keys = TargetHealthKeys()
        // GOST's defaults: a probe every 30s.
        var interval = "30s"
        var intervalPlace = node
        if let text = try probe.string("interval"), let place = probe["interval"] {
            try requireUnit(text, place)
            (interval, intervalPlace) = (text, place)
        }
        try intervalPlace.check { () throws(ConfigurationProblem) in
            try keys.apply(.probeInterval, written: "interval", value: interval)
        }
        if let text = try probe.string("timeout"), let place = probe["timeout"] {
            try requireUnit(text, place)
            try place.check { () throws(ConfigurationProblem) in try keys.apply(.probeTimeout, written: "timeout", value: text) }
        }
        let health = try node.check { () throws(ConfigurationProblem) in try keys.make(commandLine: false) }
        guard let config = health.probe else { throw node.error(.missingKey("interval", expected: "a duration, e.g. 30s")) }
        return config
    }

    /// Selector and probe durations are Go `time.Duration` fields in GOST's file schema, where a
    /// bare number is nanoseconds (metadata durations are seconds): make the unit explicit.
    private static func requireUnit(_ text: String, _ place: SchemaNode) throws(ConfigurationError) {
        guard text != "0", !text.isEmpty, text.allSatisfy({ ("0"..."9").contains($0) }) else { return }
        throw place.error(
            .badValue(
                key: place.path.lastKey, value: text,
                expected: "a duration with a unit, e.g. \(text)s (GOST reads a bare number here as nanoseconds)"))
    }
}
