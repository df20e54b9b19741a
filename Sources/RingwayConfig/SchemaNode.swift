/// A node of a configuration file with its key path (`services[0].handler`) and the file's name,
/// so every error the schema raises points at the line, the column and the key.
struct SchemaNode {
    let node: ConfigNode
    /// The keys and indices from the document's root; empty for the root itself.
    let path: String
    let source: String

    var mark: ConfigMark { node.mark }

    var origin: ConfigurationError.Origin {
        .file(path: source, line: mark.line, column: mark.column, keyPath: path)
    }

    func error(_ problem: ConfigurationProblem) -> ConfigurationError {
        ConfigurationError(problem, origin: origin)
    }

    /// Runs a check of the URL grammar's (which knows nothing of files) and places its problem here.
    func check<T>(_ body: () throws(ConfigurationProblem) -> T) throws(ConfigurationError) -> T {
        do throws(ConfigurationProblem) {
            return try body()
        } catch {
            throw self.error(error)
        }
    }

    func child(_ key: String, _ node: ConfigNode) -> SchemaNode {
        SchemaNode(node: node, path: path.isEmpty ? key : "\(path).\(key)", source: source)
    }

    /// A scalar's text; nil for null (`key:` with nothing after it).
    func optionalText() throws(ConfigurationError) -> String? {
        switch node {
        case .scalar(let scalar, _): return scalar.text
        case .null: return nil
        default: throw error(.wrongNodeKind(expected: "a scalar", found: node.kindName))
        }
    }

    /// A scalar's text that must not be empty.
    func text(expected: String) throws(ConfigurationError) -> String {
        guard let text = try optionalText(), !text.isEmpty else {
            throw error(.missingKey(path.lastKey, expected: expected))
        }
        return text
    }

    /// A list's items, each with its index in the path. Null is an empty list.
    func items() throws(ConfigurationError) -> [SchemaNode] {
        switch node {
        case .sequence(let items, _):
            return items.enumerated().map { SchemaNode(node: $1, path: "\(path)[\($0)]", source: source) }
        case .null: return []
        default: throw error(.wrongNodeKind(expected: "a list", found: node.kindName))
        }
    }

    /// A mapping whose keys are checked against `keys`. Null is an empty mapping.
    func mapping(_ keys: SchemaKeys) throws(ConfigurationError) -> SchemaMapping {
        switch node {
        case .mapping(let entries, _): return try SchemaMapping(self, entries: entries, keys: keys)
        case .null: return try SchemaMapping(self, entries: [], keys: keys)
        default: throw error(.wrongNodeKind(expected: "a mapping", found: node.kindName))
        }
    }

    /// A metadata map's keys and values in order, nested maps flattened with dots
    /// (`proxyProtocolTLV: {crc32c: true}` is `proxyProtocolTLV.crc32c`), each value's text: a
    /// scalar's, empty for null, a list's items joined with commas (`trustedProxies: [a, b]`).
    func metadataEntries() throws(ConfigurationError) -> [(key: String, text: String, value: SchemaNode)] {
        guard case .mapping(let entries, _) = node else {
            if case .null = node { return [] }
            throw error(.wrongNodeKind(expected: "a mapping", found: node.kindName))
        }
        var result: [(key: String, text: String, value: SchemaNode)] = []
        for entry in entries {
            let value = child(entry.key, entry.value)
            switch entry.value {
            case .mapping:
                result += try value.metadataEntries().map { ("\(entry.key).\($0.key)", $0.text, $0.value) }
            case .scalar(let scalar, _):
                result.append((entry.key, scalar.text, value))
            case .null:
                result.append((entry.key, "", value))
            case .sequence:
                var texts: [String] = []
                for item in try value.items() {
                    guard case .scalar(let scalar, _) = item.node else {
                        throw item.error(.wrongNodeKind(expected: "a scalar", found: item.node.kindName))
                    }
                    texts.append(scalar.text)
                }
                result.append((entry.key, texts.joined(separator: ","), value))
            }
        }
        return result
    }
}

/// The keys a mapping may hold: those Ringway reads, and those GOST has that Ringway does not,
/// each with what to do instead.
struct SchemaKeys {
    let known: [String]
    /// Lowercased GOST key -> hint; "" means the metadata hint (`GOSTOnlyKeys`) or "remove it".
    let gostOnly: [String: String]

    init(_ known: [String], gostOnly: [String: String] = [:]) {
        self.known = known
        self.gostOnly = gostOnly
    }

    /// GOST keys with the default hint.
    init(_ known: [String], gostOnly names: [String], hints: [String: String] = [:]) {
        var table: [String: String] = [:]
        for name in names { table[name.lowercased()] = hints[name] ?? "" }
        self.init(known, gostOnly: table)
    }

    func hint(for loweredKey: String) -> String? {
        guard let hint = gostOnly[loweredKey] else { return nil }
        if !hint.isEmpty { return hint }
        return GOSTOnlyKeys.hint(for: loweredKey) ?? "remove it"
    }
}

/// A mapping whose keys were checked: each known key at most once (GOST reads keys without regard
/// to case, as viper does), GOST-only keys refused with a hint, others refused with the known list.
struct SchemaMapping {
    let node: SchemaNode
    private var values: [String: SchemaNode] = [:]

    init(_ node: SchemaNode, entries: [ConfigNode.Entry], keys: SchemaKeys) throws(ConfigurationError) {
        self.node = node
        for entry in entries {
            let lowered = entry.key.lowercased()
            let place = node.child(entry.key, entry.value)
            let keyPlace = ConfigurationError.Origin.file(
                path: node.source, line: entry.keyMark.line, column: entry.keyMark.column, keyPath: place.path)
            guard let known = keys.known.first(where: { $0.lowercased() == lowered }) else {
                if let hint = keys.hint(for: lowered) {
                    throw ConfigurationError(.unsupportedKey(entry.key, hint: hint), origin: keyPlace)
                }
                throw ConfigurationError(.unknownKey(entry.key, known: keys.known, hint: nil), origin: keyPlace)
            }
            guard values[known] == nil else {
                throw ConfigurationError(.duplicateKey(entry.key), origin: keyPlace)
            }
            values[known] = place
        }
    }

    subscript(key: String) -> SchemaNode? { values[key] }

    /// A scalar's text; nil when the key is absent or null.
    func string(_ key: String) throws(ConfigurationError) -> String? {
        try values[key]?.optionalText()
    }

    /// A scalar that must be there and not be empty.
    func requiredString(_ key: String, expected: String) throws(ConfigurationError) -> (String, SchemaNode) {
        guard let value = values[key] else {
            throw node.error(.missingKey(key, expected: expected))
        }
        return (try value.text(expected: expected), value)
    }
}

extension String {
    /// `services[0].addr` -> `addr`; `services[0]` -> `services[0]`.
    var lastKey: String {
        guard let dot = lastIndex(of: ".") else { return self }
        return String(self[index(after: dot)...])
    }
}
