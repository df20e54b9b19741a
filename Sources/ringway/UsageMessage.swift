/// Turns the argument parser's messages into Ringway's one shape, `PART: PROBLEM`, naming the
/// option first as every other start-up error does.
enum UsageMessage {
    static func oneLine(_ message: String) -> String {
        let text = message.split(separator: "\n").first.map(String.init) ?? message
        if let option = quoted(in: text, after: "Unknown option ") {
            return "\(option): unknown option (ringway --help lists them)"
        }
        if let spec = quoted(in: text, after: "Missing value for ") {
            // "-L <url>" -> "-L", "a url"
            let parts = spec.split(separator: " ", maxSplits: 1).map(String.init)
            let what = parts.count == 2 ? " " + parts[1] : ""
            return "\(parts[0]): missing value (\(parts[0])\(what))"
        }
        if text.hasPrefix("The value "), let value = quoted(in: text, after: "The value "),
           let option = quoted(in: text, after: "is invalid for ")
        {
            return "\(option.split(separator: " ").first.map(String.init) ?? option): \"\(value)\" is not valid"
        }
        return text
    }

    /// The text between single quotes right after `prefix`, if `prefix` occurs.
    private static func quoted(in text: String, after prefix: String) -> String? {
        guard let marker = text.firstRange(of: prefix + "'") else { return nil }
        let rest = text[marker.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }
}
