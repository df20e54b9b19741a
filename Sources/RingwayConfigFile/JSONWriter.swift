import RingwayConfig

/// `-O json`: two-space indentation, keys in the document's order (GOST's `-O json` layout).
/// Numbers and booleans bare, everything else a JSON string.
enum JSONWriter {
    static func write(_ document: ConfigNode) -> String {
        var out = ""
        write(document, indent: 0, into: &out)
        return out + "\n"
    }

    private static func write(_ node: ConfigNode, indent: Int, into out: inout String) {
        let pad = String(repeating: " ", count: indent + 2)
        switch node {
        case .scalar(let scalar, _):
            out += scalar.style == .plain && isLiteral(scalar.text) ? scalar.text : quoted(scalar.text)
        case .null:
            out += "null"
        case .mapping(let entries, _):
            guard !entries.isEmpty else {
                out += "{}"
                return
            }
            out += "{\n"
            for (index, entry) in entries.enumerated() {
                out += pad + quoted(entry.key) + ": "
                write(entry.value, indent: indent + 2, into: &out)
                out += index == entries.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case .sequence(let items, _):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "[\n"
            for (index, item) in items.enumerated() {
                out += pad
                write(item, indent: indent + 2, into: &out)
                out += index == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        }
    }

    /// `true`, `false`, `null`, or a number in JSON's grammar.
    static func isLiteral(_ text: String) -> Bool {
        if text == "true" || text == "false" || text == "null" { return true }
        var rest = Substring(text)
        if rest.first == "-" { rest = rest.dropFirst() }
        let integer = rest.prefix { $0.isASCII && $0.isNumber }
        guard !integer.isEmpty, integer == "0" || integer.first != "0" else { return false }
        rest = rest.dropFirst(integer.count)
        if rest.first == "." {
            let fraction = rest.dropFirst().prefix { $0.isASCII && $0.isNumber }
            guard !fraction.isEmpty else { return false }
            rest = rest.dropFirst(1 + fraction.count)
        }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCII && $0.isNumber }
            guard !exponent.isEmpty else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{8}": out += "\\b"
            case "\u{C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += "\\u" + YAMLQuoting.hex(scalar.value, width: 4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
