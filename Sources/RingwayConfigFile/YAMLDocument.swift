import RingwayConfig
import Yams

/// YAML or JSON text (libyaml reads both) turned into a `ConfigNode` that keeps every node's line
/// and column, with libyaml's errors placed and, for the usual mistake, explained.
enum YAMLDocument {
    static func read(_ text: String, source: String) throws(ConfigurationError) -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw translate(error, text: text, source: source)
        }
        guard let root else { return .null(ConfigMark(line: 1, column: 1)) }
        var budget = maximumNodes
        return try convert(root, source: source, budget: &budget, depth: 0)
    }

    /// Nodes a document may have once its aliases are expanded: a few anchors can name each other
    /// until a small file stands for billions of nodes ("billion laughs"), which would take the
    /// relay's memory on a reload. Real configurations are far below.
    static let maximumNodes = 200_000
    /// Nesting no configuration needs; it bounds the recursion below.
    static let maximumDepth = 64

    private static func convert(
        _ node: Node, source: String, budget: inout Int, depth: Int
    ) throws(ConfigurationError) -> ConfigNode {
        let mark = node.mark.map { ConfigMark(line: $0.line, column: $0.column) } ?? ConfigMark(line: 1, column: 1)
        budget -= 1
        guard budget >= 0 else {
            throw ConfigurationError(
                .syntax("the document has more than \(maximumNodes) values once its aliases are expanded; "
                    + "write the repeated parts out, or use fewer aliases"),
                origin: place(mark, source))
        }
        guard depth <= maximumDepth else {
            throw ConfigurationError(
                .syntax("values nested more than \(maximumDepth) levels deep; no configuration needs that"),
                origin: place(mark, source))
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, nullSpellings.contains(scalar.string) { return .null(mark) }
            return .scalar(ConfigScalar(scalar.string, style: scalar.style == .plain ? .plain : .quoted), mark)
        case .mapping(let mapping):
            var entries: [ConfigNode.Entry] = []
            for (key, value) in mapping {
                let keyNode = try convert(key, source: source, budget: &budget, depth: depth + 1)
                let keyText: String
                switch keyNode {
                case .scalar(let scalar, _): keyText = scalar.text
                case .null: keyText = ""
                default:
                    throw ConfigurationError(
                        .wrongNodeKind(expected: "a scalar as a key", found: keyNode.kindName),
                        origin: place(keyNode.mark, source))
                }
                entries.append(
                    ConfigNode.Entry(
                        key: keyText, keyMark: keyNode.mark,
                        value: try convert(value, source: source, budget: &budget, depth: depth + 1)))
            }
            return .mapping(entries, mark)
        case .sequence(let sequence):
            var items: [ConfigNode] = []
            for item in sequence { items.append(try convert(item, source: source, budget: &budget, depth: depth + 1)) }
            return .sequence(items, mark)
        case .alias:
            // compose() resolves aliases to the nodes they name; an alias left over is a bug there.
            throw ConfigurationError(.syntax("an alias that does not resolve"), origin: place(mark, source))
        }
    }

    /// YAML 1.2's null, which GOST's reader (yaml.v3) uses too.
    private static let nullSpellings: Set<String> = ["", "~", "null", "Null", "NULL"]

    private static func place(_ mark: ConfigMark, _ source: String) -> ConfigurationError.Origin {
        .file(path: source, line: mark.line, column: mark.column, keyPath: "")
    }

    private static func translate(_ error: any Error, text: String, source: String) -> ConfigurationError {
        guard let yamlError = error as? YamlError else {
            return ConfigurationError(
                .syntax(String(describing: error)), origin: place(ConfigMark(line: 1, column: 1), source))
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
            .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            // libyaml's words for a tab in the indentation ("found character that cannot start any
            // token") do not say what to fix; JSON may use tabs anywhere.
            if ConfigFile.format(of: text) == .yaml, let tab = firstIndentingTab(in: text, throughLine: mark.line) {
                return ConfigurationError(.tabIndentation, origin: place(tab, source))
            }
            let during = context.map { "\($0.text) at line \($0.mark.line), column \($0.mark.column): " } ?? ""
            return ConfigurationError(
                .syntax(during + problem), origin: place(ConfigMark(line: mark.line, column: mark.column), source))
        case .reader(let problem, let offset, _, _):
            return ConfigurationError(.syntax(problem), origin: place(mark(ofCharacter: offset ?? 0, in: text), source))
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigurationError(
                .duplicateKey(duplicates.joined(separator: ", ")),
                origin: place(ConfigMark(line: context.mark.line, column: context.mark.column), source))
        default:
            return ConfigurationError(
                .syntax(String(describing: yamlError)), origin: place(ConfigMark(line: 1, column: 1), source))
        }
    }

    /// The first tab in the indentation of a line that has content, on or before `lastLine`.
    static func firstIndentingTab(in text: String, throughLine lastLine: Int) -> ConfigMark? {
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if lineNumber > lastLine { return nil }
            let indentation = line.prefix { $0 == " " || $0 == "\t" }
            guard indentation.count < line.count, line.dropFirst(indentation.count).first != "\r",
                let tab = indentation.firstIndex(of: "\t")
            else { continue }
            return ConfigMark(line: lineNumber, column: line.distance(from: line.startIndex, to: tab) + 1)
        }
        return nil
    }

    /// Line and column of the character at `offset`, counted as libyaml counts them.
    private static func mark(ofCharacter offset: Int, in text: String) -> ConfigMark {
        var line = 1
        var column = 1
        for character in text.prefix(offset) {
            if character == "\n" {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return ConfigMark(line: line, column: column)
    }
}
