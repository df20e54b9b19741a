/// One `-L`/`-F` argument cut into its parts the way GOST cuts it:
/// `scheme://[user:pass@]host[/path][?query]`. Nothing is validated beyond the cut; the parts are
/// the text as written (the query is percent-decoded by `QueryItem.parse`).
struct GOSTURL {
    /// Lowercased, as Go's `url.Parse` leaves it; nil when there is no `scheme://`.
    var scheme: String?
    var hasUserInfo: Bool { userInfo != nil }
    /// Between `://` and the last `@` of the authority, as written; nil when there is no `@`.
    var userInfo: Substring?
    /// Between `://` (and any `user@`) and the first `/` or `?`.
    var host: Substring
    /// After the host up to `?`, without the leading `/`; nil when absent.
    var path: Substring?
    /// After the first `?`; nil when absent.
    var query: Substring?

    init(_ text: String) throws(ConfigurationProblem) {
        guard !text.isEmpty else { throw .empty }
        if let bad = text.first(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) {
            throw .unexpectedCharacter(bad, in: "the URL")
        }
        if text.contains("#") { throw .unexpectedCharacter("#", in: "the URL") }
        var rest = Substring(text)
        // GOST: a leading ':' or no "://" means no scheme (its `auto` service, or an HTTP node).
        if !text.hasPrefix(":"), let separator = text.firstRange(of: "://") {
            let scheme = text[..<separator.lowerBound]
            guard let first = scheme.first, first.isASCII, first.isLetter,
                scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
            else { throw .unexpectedCharacter(scheme.first ?? ":", in: "the scheme") }
            self.scheme = scheme.lowercased()
            rest = text[separator.upperBound...]
        } else {
            self.scheme = nil
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
        } else {
            userInfo = nil
        }
        host = authority
        var tail = rest[authorityEnd...]
        if tail.first == "/" {
            let pathEnd = tail.firstIndex(of: "?") ?? tail.endIndex
            path = tail[tail.index(after: tail.startIndex)..<pathEnd]
            tail = tail[pathEnd...]
        } else {
            path = nil
        }
        query = tail.first == "?" ? tail.dropFirst() : nil
    }
}

/// One `key=value` of a query, percent-decoded as Go's `url.ParseQuery` does (`+` is a space).
struct QueryItem: Hashable {
    var key: String
    var value: String

    /// The items in written order. Empty pieces (`a=1&&b=2`) are skipped, as in Go; a key without
    /// `=` has the empty value.
    static func parse(_ query: Substring) throws(ConfigurationProblem) -> [QueryItem] {
        var items: [QueryItem] = []
        for piece in query.split(separator: "&", omittingEmptySubsequences: true) {
            if piece.contains(";") { throw .unexpectedCharacter(";", in: "the query (separate keys with &)") }
            let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try percentDecode(parts[0])
            guard !key.isEmpty else { throw .unexpectedCharacter("=", in: "the query (a key is missing)") }
            let value = parts.count == 2 ? try percentDecode(parts[1]) : ""
            items.append(QueryItem(key: key, value: value))
        }
        return items
    }

    static func percentDecode(_ text: Substring, plusIsSpace: Bool = true) throws(ConfigurationProblem) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace:
                bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexDigitValue),
                    let low = iterator.next().flatMap(hexDigitValue)
                else { throw .badEscape(String(text)) }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .badEscape(String(text)) }
        return decoded
    }

    private static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
