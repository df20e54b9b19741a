import ProxyProtocol
import RingwayConfig
import Synchronization
import Uring

/// Listening sockets a predecessor process handed over (README, Zero-loss replacement), by the
/// address each is bound to. A service takes the ones bound to its listen address instead of
/// binding new ones: its clients keep queueing on sockets that never close, so the replacement
/// resets none. Descriptors that are not listening TCP sockets are closed on arrival.
public final class InheritedListeners: Sendable {
    private let available: Mutex<[IPEndpoint: [Descriptor]]>
    /// Sockets received that are listening TCP sockets.
    public let count: Int

    public init(_ descriptors: [Descriptor]) {
        var byAddress: [IPEndpoint: [Descriptor]] = [:]
        var count = 0
        for descriptor in descriptors {
            guard descriptor.isListeningTCPSocket, let bound = (try? descriptor.localAddress()).flatMap(IPEndpoint.init) else {
                descriptor.closeNow()
                continue
            }
            byAddress[bound, default: []].append(descriptor)
            count += 1
        }
        self.available = Mutex(byAddress)
        self.count = count
    }

    /// A socket bound where `listen` would bind (an empty host: the dual-stack wildcard, or
    /// 0.0.0.0 where IPv6 is off), or nil. Port 0 asks for a fresh port, so never an inherited one.
    func take(_ listen: ListenAddress) -> Descriptor? {
        guard listen.port != 0 else { return nil }
        let candidates = listen.host.map { [$0] } ?? [.v6(.any), .v4(.any)]
        return available.withLock { available in
            for host in candidates {
                let endpoint = IPEndpoint(address: host, port: listen.port)
                if let socket = available[endpoint]?.popLast() { return socket }
            }
            return nil
        }
    }

    /// Closes what no service took (more sockets than workers, services that are gone). The
    /// predecessor still holds them; they stop listening when it exits.
    func closeUnused() -> Int {
        available.withLock { available in
            let unused = available.values.joined()
            unused.forEach { $0.closeNow() }
            available = [:]
            return unused.count
        }
    }
}
