import CAres

/// Why a name did not resolve.
public struct ResolveFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// NXDOMAIN: the name does not exist (nor with any search domain).
        case notFound
        /// The name exists but has no A or AAAA record.
        case noAddresses
        /// No server answered in time.
        case timedOut
        /// The server refused the query (REFUSED).
        case refused
        /// The server could not answer (SERVFAIL).
        case serverFailure
        /// No server could be reached (connection refused).
        case unreachable
        /// Not a valid host name; no query was sent.
        case badName
        /// The resolver went away before the answer came.
        case cancelled
        /// Any other c-ares error.
        case other(code: Int32, message: String)
    }

    /// The name as it was asked for.
    public var name: String
    public var kind: Kind

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    /// Negative answers the resolver caches (for `AsyncResolver.negativeTTLSeconds`): the name's
    /// own servers said so. Timeouts and server trouble are not cached.
    public var isNegativeAnswer: Bool { kind == .notFound || kind == .noAddresses }

    public var description: String {
        switch kind {
        case .notFound:
            return "\(name) does not exist (NXDOMAIN): check the spelling, or add it to /etc/hosts"
        case .noAddresses:
            return "\(name) exists but has no IPv4 or IPv6 address (no A or AAAA record)"
        case .timedOut:
            return "looking up \(name) timed out: no DNS server answered; check the nameserver lines of /etc/resolv.conf and that those servers are reachable"
        case .refused:
            return "the DNS server refused to look up \(name) (REFUSED); check that the nameserver in /etc/resolv.conf serves this host"
        case .serverFailure:
            return "the DNS server could not look up \(name) (SERVFAIL); the name's own servers may be down or misconfigured, try again later"
        case .unreachable:
            return "could not reach a DNS server to look up \(name) (connection refused); check the nameserver lines of /etc/resolv.conf"
        case .badName:
            return "\(name.isEmpty ? "the empty name" : "\"\(name)\"") is not a valid host name: use letters, digits, hyphens and dots, labels of 1 to 63 characters, 253 in all"
        case .cancelled:
            return "the lookup of \(name) was cancelled"
        case .other(let code, let message):
            return "looking up \(name) failed: \(message) (c-ares error \(code))"
        }
    }
}

extension ResolveFailure.Kind {
    /// The kind of a c-ares status other than `ARES_SUCCESS`.
    init(aresStatus status: Int32) {
        switch status {
        case ARES_ENOTFOUND, ARES_ENONAME: self = .notFound
        case ARES_ENODATA: self = .noAddresses
        case ARES_ETIMEOUT: self = .timedOut
        case ARES_EREFUSED: self = .refused
        case ARES_ESERVFAIL: self = .serverFailure
        case ARES_ECONNREFUSED: self = .unreachable
        case ARES_EBADNAME: self = .badName
        case ARES_ECANCELLED, ARES_EDESTRUCTION: self = .cancelled
        default: self = .other(code: status, message: aresMessage(status))
        }
    }
}

/// `ares_strerror`'s text (a static string).
func aresMessage(_ status: Int32) -> String {
    guard let text = ares_strerror(status) else { return "c-ares error \(status)" }
    return String(cString: text)
}
