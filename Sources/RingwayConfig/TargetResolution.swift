import ProxyProtocol

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Name resolution with the system resolver (`/etc/hosts`, then DNS, per nsswitch), so the engine
/// only ever connects to addresses. At start-up a name that does not resolve stops Ringway with a
/// clear error rather than failing every connection later; afterwards the engine looks names up
/// again when connects to them fail.
public enum TargetResolution {
    /// What an empty target host (`tcp://:8080/:80`) connects to: GOST dials `":80"`, which Go
    /// treats as the local system. Ringway tries IPv4 loopback first, where local servers listen
    /// most often, then IPv6 loopback when this machine has it.
    public static func localMachine() -> [IPAddress] {
        hasIPv6Loopback() ? [.v4(.loopback), .v6(.loopback)] : [.v4(.loopback)]
    }

    /// The addresses `host` resolves to for a TCP connection, in the resolver's order, without
    /// repeats. An IP literal is returned as it is; an empty host is `localMachine`.
    public static func addresses(of host: String) throws(HostLookupError) -> [IPAddress] {
        if host.isEmpty { return localMachine() }
        if let literal = IPAddress(host) { return [literal] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        // No AI_ADDRCONFIG: it hides every address on a machine whose only interface is loopback.
        hints.ai_flags = 0
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            let reason = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            throw HostLookupError(host: host, reason: reason)
        }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            if let address = IPAddress(socketAddress: current.pointee.ai_addr), !addresses.contains(address) {
                addresses.append(address)
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }

    /// Whether `::1` can be bound, i.e. IPv6 is on for loopback.
    static func hasIPv6Loopback() -> Bool {
        let descriptor = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        return status == 0
    }
}

/// A host name the system resolver could not turn into addresses.
public struct HostLookupError: Error, Hashable, Sendable, CustomStringConvertible {
    public var host: String
    /// `gai_strerror`'s text, e.g. "Name or service not known".
    public var reason: String

    public init(host: String, reason: String) {
        self.host = host
        self.reason = reason
    }

    public var description: String { "\(host) does not resolve: \(reason)" }
}

extension ServiceConfig {
    /// Fills `resolved` of every target; an unresolvable name is a configuration error.
    public mutating func resolveTargets() throws(ConfigurationError) {
        for index in targets.indices {
            let target = targets[index]
            let addresses: [IPAddress]
            do throws(HostLookupError) {
                addresses = try TargetResolution.addresses(of: target.host)
            } catch {
                throw ConfigurationError(
                    .doesNotResolve(target: target.description, service: name, reason: error.reason)
                )
            }
            guard !addresses.isEmpty else {
                throw ConfigurationError(.noAddresses(target: target.description, service: name))
            }
            targets[index].resolved = addresses.map { IPEndpoint(address: $0, port: target.port) }
        }
    }
}

extension RingwayConfiguration {
    /// Resolves every service's targets; see `ServiceConfig.resolveTargets()`. Errors quote the
    /// `-L` argument the target was written in.
    public mutating func resolveTargets() throws(ConfigurationError) {
        for index in services.indices {
            do throws(ConfigurationError) {
                try services[index].resolveTargets()
            } catch {
                throw ConfigurationError(error.problem, origin: error.origin ?? origin(of: services[index].name))
            }
        }
    }
}
