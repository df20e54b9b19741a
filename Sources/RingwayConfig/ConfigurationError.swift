/// A configuration Ringway cannot run. `description` is one line that names the bad part and says
/// what is expected, e.g. `-L "tcp://:99999/x:80": port 99999 is out of range 1-65535`.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the bad text came from.
    public enum Origin: Hashable, Sendable {
        /// One `-L` argument, as written.
        case serviceURL(String)
        /// One `-F` argument, as written.
        case nodeURL(String)
        /// A named setting (`--workers`, `-metrics`, a service name for resolution errors).
        case setting(String)
        /// A place in a configuration file (`-C`): 1-based line and column, and the key path
        /// there (`services[0].handler.metadata.proxyProtocol`; empty for a syntax error).
        case file(path: String, line: Int, column: Int, keyPath: String)
    }

    public var origin: Origin?
    public var problem: ConfigurationProblem

    public init(_ problem: ConfigurationProblem, origin: Origin? = nil) {
        self.origin = origin
        self.problem = problem
    }

    public var description: String {
        guard let origin else { return problem.description }
        return "\(origin.place): \(problem)"
    }
}

/// What is wrong, independent of where it was written. Tests match on these cases; people read
/// `description`.
public enum ConfigurationProblem: Error, Hashable, Sendable, CustomStringConvertible {
    case empty
    /// No `scheme://`: GOST reads that as its `auto` proxy handler (or an HTTP proxy node).
    case missingScheme(meaning: String, use: String)
    case unsupportedScheme(String, meaning: String?, supported: [String])
    case userInfoNotSupported
    case unexpectedCharacter(Character, in: String)
    case badHost(String, expected: String)
    case missingPort(String)
    case badPort(String)
    case portOutOfRange(String)
    case badPortRange(String)
    case missingTarget(use: String)
    case emptyTarget
    case unexpectedTargets(kind: String)
    case badEscape(String)
    case duplicateKey(String)
    case unknownKey(String, known: [String], hint: String?)
    case unsupportedKey(String, hint: String)
    case keyOutOfScope(String, use: String)
    case keyNotForKind(String, kind: String)
    case badValue(key: String, value: String, expected: String)
    case badDuration(key: String, DurationSyntaxError)
    case badCIDR(key: String, CIDRSyntaxError)
    case requires(key: String, other: String)
    case conflict(String)
    case forwardHopInChain
    case doesNotResolve(target: String, service: String, reason: String)
    case noAddresses(target: String, service: String)
    // Configuration files (`-C`).
    /// The file could not be read at all (missing, a directory, not UTF-8).
    case unreadable(reason: String)
    /// YAML or JSON that does not parse; the text is the parser's.
    case syntax(String)
    /// A tab in a line's indentation, which YAML forbids (and libyaml reports obscurely).
    case tabIndentation
    /// A node of the wrong shape: a list where a mapping belongs, and so on.
    case wrongNodeKind(expected: String, found: String)
    case missingKey(String, expected: String)
    /// A `type:` GOST knows (or not) that Ringway does not serve, e.g. handler type `ss`.
    case unsupportedType(String, of: String, meaning: String?, supported: [String])
    /// A reference (`handler.chain`) to a name nothing defines.
    case undefinedName(String, kind: String, defined: [String])
    case duplicateName(String, kind: String)

    public var description: String {
        switch self {
        case .empty:
            return "is empty; expected e.g. tcp://:8080/127.0.0.1:80"
        case .missingScheme(let meaning, let use):
            return "has no scheme, which GOST reads as \(meaning); use \(use)"
        case .unsupportedScheme(let scheme, let meaning, let supported):
            let what = meaning.map { " (\($0))" } ?? ""
            return "scheme \(scheme)\(what) is not supported; Ringway supports \(supported.joined(separator: ", "))"
        case .userInfoNotSupported:
            return "user:password@ is not supported; Ringway relays TCP without authentication"
        case .unexpectedCharacter(let character, let part):
            return "unexpected '\(character)' in \(part)"
        case .badHost(let host, let expected):
            return "host \"\(host)\" is not valid; expected \(expected)"
        case .missingPort(let address):
            return "\"\(address)\" has no port; expected HOST:PORT, :PORT or [IPv6]:PORT"
        case .badPort(let port):
            return "port \"\(port)\" is not a number; expected 1-65535"
        case .portOutOfRange(let port):
            return "port \(port) is out of range 1-65535"
        case .badPortRange(let range):
            return "port range \(range) is not valid; expected LOW-HIGH with 1 <= LOW <= HIGH <= 65535"
        case .missingTarget(let use):
            return "has no target; use \(use)"
        case .emptyTarget:
            return "has an empty entry in its target list; expected HOST:PORT[,HOST:PORT...]"
        case .unexpectedTargets(let kind):
            return "\(kind):// takes no target; remove the /HOST:PORT part"
        case .badEscape(let text):
            return "\"\(text)\" has a bad percent escape; expected %XX with two hex digits"
        case .duplicateKey(let key):
            return "key \(key) is given more than once"
        case .unknownKey(let key, let known, let hint):
            let suggestion = hint.map { " (did you mean \($0)?)" } ?? ""
            return "unknown key \(key)\(suggestion); known keys: \(known.joined(separator: ", "))"
        case .unsupportedKey(let key, let hint):
            return "key \(key) is a GOST option Ringway does not support; \(hint)"
        case .keyOutOfScope(let key, let use):
            return "key \(key) has no effect in that scope; use \(use)"
        case .keyNotForKind(let key, let kind):
            return "key \(key) has no effect on \(kind):// services"
        case .badValue(let key, let value, let expected):
            return "\(key)=\(value) is not valid; expected \(expected)"
        case .badDuration(let key, let error):
            return "\(key): \(error)"
        case .badCIDR(let key, let error):
            return "\(key): \(error)"
        case .requires(let key, let other):
            return "\(key) needs \(other)"
        case .conflict(let text):
            return text
        case .forwardHopInChain:
            return
                "a forward:// hop replaces the targets and cannot be one of several -F hops; chain http://, "
                + "socks5:// or socks4:// hops"
        case .doesNotResolve(let target, let service, let reason):
            return "target \(target) of \(service) does not resolve: \(reason)"
        case .noAddresses(let target, let service):
            return "target \(target) of \(service) resolved to no IPv4 or IPv6 address"
        case .unreadable(let reason):
            return "cannot be read: \(reason)"
        case .syntax(let text):
            return text
        case .tabIndentation:
            return "a tab indents this line; YAML allows only spaces for indentation"
        case .wrongNodeKind(let expected, let found):
            return "expected \(expected), found \(found)"
        case .missingKey(let key, let expected):
            return "\(key) is missing; expected \(expected)"
        case .unsupportedType(let type, let component, let meaning, let supported):
            let what = meaning.map { " (\($0))" } ?? ""
            return "\(component) type \(type)\(what) is not supported; Ringway supports \(supported.joined(separator: ", "))"
        case .undefinedName(let name, let kind, let defined):
            let known = defined.isEmpty ? "none is defined" : "defined: \(defined.joined(separator: ", "))"
            return "\(kind) \(name) is not defined; \(known)"
        case .duplicateName(let name, let kind):
            return "\(kind) name \(name) is used more than once; names must be unique"
        }
    }
}
