import ProxyProtocol

/// How an `AsyncResolver` talks to DNS. The defaults are the system's: `/etc/resolv.conf` for
/// servers, search domains, timeout and tries, and `/etc/hosts` before DNS.
public struct ResolverOptions: Sendable {
    /// `ip:port` (or `[ipv6]:port`, or just `ip`) entries that replace resolv.conf's nameservers.
    public var servers: [String]?
    /// Time to wait for a server's answer before the next try; resolv.conf's (or 5 s) when nil.
    public var timeoutMilliseconds: Int?
    /// Queries per server before giving up; resolv.conf's (or 4) when nil.
    public var tries: Int?
    /// Names kept in the answer cache; the oldest entry goes first when it is full.
    public var cacheCapacity: Int

    public init(servers: [String]? = nil, timeoutMilliseconds: Int? = nil, tries: Int? = nil, cacheCapacity: Int = 4096) {
        self.servers = servers
        self.timeoutMilliseconds = timeoutMilliseconds
        self.tries = tries
        self.cacheCapacity = cacheCapacity
    }
}

/// The addresses a name resolved to.
public struct Answer: Hashable, Sendable {
    /// IPv4 addresses first, then IPv6, each in the order DNS gave them, without repeats, at
    /// most `AsyncResolver.maximumAddresses`.
    public var addresses: [IPAddress]
    /// How long the addresses stay valid from now: the DNS TTL clamped to 1 s...1 h, 60 s for
    /// `/etc/hosts` entries, what is left of it for a cached answer, `UInt32.max` for IP literals.
    public var ttlSeconds: UInt32

    public init(addresses: [IPAddress], ttlSeconds: UInt32) {
        self.addresses = addresses
        self.ttlSeconds = ttlSeconds
    }
}

/// What `AsyncResolver.resolve` could say at once.
public enum ResolveStart: Hashable, Sendable {
    /// From the cache, `/etc/hosts` or an IP literal; `drainAnswers` will not report this token.
    case answered(Answer)
    /// A cached negative answer or an invalid name; `drainAnswers` will not report this token.
    case failed(ResolveFailure)
    /// A query is under way; the token's result comes out of `drainAnswers`.
    case started
}

/// A change in which readiness c-ares waits for on one of its sockets.
public struct SocketInterest: Hashable, Sendable {
    public var descriptor: Int32
    public var wantsRead: Bool
    public var wantsWrite: Bool

    public init(descriptor: Int32, wantsRead: Bool, wantsWrite: Bool) {
        self.descriptor = descriptor
        self.wantsRead = wantsRead
        self.wantsWrite = wantsWrite
    }

    /// False: c-ares is done with (and has closed, or is about to close) the descriptor; stop
    /// watching it.
    public var isWatched: Bool { wantsRead || wantsWrite }
}

/// c-ares could not be set up.
public struct ResolverError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What failed, e.g. `ares_init_options`.
    public var operation: String
    /// The `ARES_E*` code.
    public var code: Int32
    public var message: String

    public init(operation: String, code: Int32, message: String) {
        self.operation = operation
        self.code = code
        self.message = message
    }

    public var description: String { "could not start the DNS resolver: \(operation) failed: \(message)" }
}
