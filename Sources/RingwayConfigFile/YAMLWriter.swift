import RingwayConfig

/// `-O yaml`: block style with two-space indentation (GOST's own `-O` layout), keys in the
/// document's order, strings quoted only where YAML would misread them bare.
enum YAMLWriter {
    static func write(_ document: ConfigNode) -> String {
        var out = ""
        switch document {
        case .mapping(let entries, _) where !entries.isEmpty: writeMapping(entries, indent: 0, into: &out)
        case .sequence(let items, _) where !items.isEmpty: writeSequence(items, indent: 0, into: &out)
        default: out = inline(document) + "\n"
        }
        return out
    }

    private static func writeMapping(_ entries: [ConfigNode.Entry], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for entry in entries {
            out += pad + scalarText(entry.key, style: .quoted) + ":"
            switch entry.value {
            case .mapping(let children, _) where !children.isEmpty:
                out += "\n"
                writeMapping(children, indent: indent + 2, into: &out)
            case .sequence(let items, _) where !items.isEmpty:
                out += "\n"
                writeSequence(items, indent: indent + 2, into: &out)
            default:
                out += " " + inline(entry.value) + "\n"
            }
        }
    }

    private static func writeSequence(_ items: [ConfigNode], indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            switch item {
            case .mapping(let entries, _) where !entries.isEmpty:
                // The first key goes on the dash's line: "- name: x", the others under it.
                var block = ""
                writeMapping(entries, indent: indent + 2, into: &block)
                out += pad + "- " + block.dropFirst(indent + 2)
            case .sequence(let nested, _) where !nested.isEmpty:
                out += pad + "-\n"
                writeSequence(nested, indent: indent + 2, into: &out)
            default:
                out += pad + "- " + inline(item) + "\n"
            }
        }
    }

    /// A scalar, null, or an empty collection on one line.
    private static func inline(_ node: ConfigNode) -> String {
        switch node {
        case .scalar(let scalar, _): return scalarText(scalar.text, style: scalar.style)
        case .null: return "null"
        case .mapping: return "{}"
        case .sequence: return "[]"
        }
    }

    /// Bare when that reads back as the same text (and, for a string, as a string); otherwise
    /// double-quoted with YAML's escapes.
    static func scalarText(_ text: String, style: ConfigScalar.Style) -> String {
        let bare = !YAMLQuoting.breaksPlainScalar(text) && (style == .plain || !YAMLQuoting.resolvesAsNonString(text))
        return bare ? text : YAMLQuoting.doubleQuoted(text)
    }
}

/// When a YAML 1.1 or 1.2 reader (libyaml, Go's yaml.v3) would read bare text differently.
enum YAMLQuoting {
    /// Text that cannot stand bare at all: indicators, comment and mapping marks, control characters.
    static func breaksPlainScalar(_ text: String) -> Bool {
        guard let first = text.first, let last = text.last else { return true }
        if ",[]{}#&*!|>'\"%@`".contains(first) { return true }
        if "-?:".contains(first) {
            let second = text.dropFirst().first
            if second == nil || second == " " { return true }
        }
        if first == " " || last == " " || last == ":" { return true }
        if text.hasPrefix("---") || text.hasPrefix("...") { return true }
        if text.contains(": ") || text.contains(" #") { return true }
        return text.unicodeScalars.contains { scalar in
            scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}" || scalar == "\u{FEFF}"
        }
    }

    /// Text a reader would take for null, a boolean, a number or a date (in YAML 1.1 as well, which
    /// reads `yes`, `on`, `0x1F`, `1_000` and `1:30` as values).
    static func resolvesAsNonString(_ text: String) -> Bool {
        let lowered = text.lowercased()
        if ["~", "null", "y", "n", "yes", "no", "true", "false", "on", "off", "<<", "="].contains(lowered) {
            return true
        }
        if [".inf", "-.inf", "+.inf", ".nan"].contains(lowered) { return true }
        var body = Substring(lowered)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard let first = body.first else { return false }
        if first == "." { return body.dropFirst().first?.isNumber == true }
        guard first.isNumber else { return false }
        // Digits with the separators and letters numbers may have: 1e3, 0x1f, 0o17, 1_000, 1:30,
        // 2001-12-14. Addresses such as 10.0.0.1:80 also land here and are quoted; that is harmless.
        return body.allSatisfy { $0.isHexDigit || "._:+-xob".contains($0) }
    }

    static func doubleQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{85}": out += "\\N"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            case "\u{FEFF}": out += "\\uFEFF"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
