/// The client protocols a proxy service (`auto://`, `http://`, `socks5://`, `socks4://`) speaks.
/// `auto` (and GOST's bare `-L :8080`) speaks all three and lets the first byte decide: 0x05
/// SOCKS5, 0x04 SOCKS4, anything else HTTP.
public struct ProxyHandlerProtocols: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let http = ProxyHandlerProtocols(rawValue: 1)
    /// SOCKS4 and its 4a extension (a domain name instead of an address).
    public static let socks4 = ProxyHandlerProtocols(rawValue: 2)
    public static let socks5 = ProxyHandlerProtocols(rawValue: 4)
    public static let auto: ProxyHandlerProtocols = [.http, .socks4, .socks5]
}

/// `user:pass@` of a `-L` proxy service (clients must present them) or of a `-F` hop (Ringway
/// presents them). Percent-decoded, as Go's `url.UserPassword` gives them.
public struct Credentials: Hashable, Sendable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Never the password: configurations are printed in errors and logs.
    public var description: String { "\(user):***" }

    /// RFC 1929 carries each in one length byte; HTTP Basic has no limit but 255 is plenty.
    static let maximumLength = 255

    /// `user:pass` or `user` (an empty password), as written in a URL.
    static func parse(_ written: Substring) throws(ConfigurationProblem) -> Credentials {
        let parts = written.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let user = try QueryItem.percentDecode(parts[0], plusIsSpace: false)
        let password = parts.count == 2 ? try QueryItem.percentDecode(parts[1], plusIsSpace: false) : ""
        return try validated(user: user, password: password)
    }

    /// Credentials as given (a URL's after decoding, a file's `auth.username`/`auth.password`), if
    /// every protocol that carries them can.
    static func validated(user: String, password: String) throws(ConfigurationProblem) -> Credentials {
        guard !user.isEmpty else {
            throw .badValue(key: "user:password@", value: "(empty user)", expected: "a user name before the ':'")
        }
        // HTTP Basic sends "user:password": a colon in the user would move it into the password.
        guard !user.contains(":") else {
            throw .badValue(key: "user:password@", value: "(user with ':')", expected: "a user name without ':' (RFC 7617)")
        }
        guard user.utf8.count <= maximumLength, password.utf8.count <= maximumLength else {
            throw .badValue(key: "user:password@", value: "(too long)", expected: "a user and a password of at most 255 bytes each")
        }
        guard !user.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }), !password.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F })
        else {
            throw .badValue(key: "user:password@", value: "(control character)", expected: "printable characters")
        }
        return Credentials(user: user, password: password)
    }
}
