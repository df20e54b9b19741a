/// Where a node stands in a configuration file: 1-based line and column. Nodes made by
/// `GOSTSchema.render` stand nowhere (`.generated`).
public struct ConfigMark: Hashable, Sendable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static let generated = ConfigMark(line: 0, column: 0)

    public var description: String { "\(line):\(column)" }
}

/// A scalar as written. The schema reads every scalar as its text (`1`, `true` and `"1"` all feed
/// the same validators as a URL's `key=value`); `style` says whether YAML or JSON saw it bare,
/// which decides null (`~`, `null`, nothing) when reading and quoting when printing.
public struct ConfigScalar: Hashable, Sendable {
    public enum Style: Hashable, Sendable {
        /// Bare: a number, a boolean, or a string that needs no quotes.
        case plain
        /// A string in quotes (or, when printing, a string: quoted where bare text would be misread).
        case quoted
    }

    public var text: String
    public var style: Style

    public init(_ text: String, style: Style) {
        self.text = text
        self.style = style
    }
}

/// A YAML or JSON document as the GOST schema reads it: mappings keep their keys' order and each
/// node its place, so an error can say `ringway.yaml:12:7: services[0].handler.type: ...`.
/// Foundation-free, so the engine's module holds the schema; the file target fills it with Yams.
public indirect enum ConfigNode: Hashable, Sendable {
    case scalar(ConfigScalar, ConfigMark)
    case mapping([Entry], ConfigMark)
    case sequence([ConfigNode], ConfigMark)
    /// `~`, `null`, or nothing after a key.
    case null(ConfigMark)

    /// One `key: value` of a mapping, in written order.
    public struct Entry: Hashable, Sendable {
        public var key: String
        public var keyMark: ConfigMark
        public var value: ConfigNode

        public init(key: String, keyMark: ConfigMark = .generated, value: ConfigNode) {
            self.key = key
            self.keyMark = keyMark
            self.value = value
        }
    }

    public var mark: ConfigMark {
        switch self {
        case .scalar(_, let mark), .mapping(_, let mark), .sequence(_, let mark), .null(let mark): return mark
        }
    }

    /// What a person calls this kind of node, for "expected a mapping, found a list".
    public var kindName: String {
        switch self {
        case .scalar: return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .null: return "nothing (null)"
        }
    }
}

extension ConfigNode {
    /// Shorthands for building documents (`-O`, tests): a string, a number or boolean, a mapping.
    public static func string(_ text: String) -> ConfigNode { .scalar(ConfigScalar(text, style: .quoted), .generated) }
    public static func plain(_ text: String) -> ConfigNode { .scalar(ConfigScalar(text, style: .plain), .generated) }
    public static func map(_ entries: [(String, ConfigNode)]) -> ConfigNode {
        .mapping(entries.map { Entry(key: $0.0, value: $0.1) }, .generated)
    }
    public static func list(_ items: [ConfigNode]) -> ConfigNode { .sequence(items, .generated) }
}
