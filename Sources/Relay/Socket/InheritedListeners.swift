import Glibc
import ProxyProtocol
import RingwayConfig
import Synchronization
import Uring

/// Listening sockets a predecessor process handed over (README, Zero-loss replacement), by the
/// address each is bound to. A service takes the ones bound to its listen address instead of
/// binding new ones: its clients keep queueing on sockets that never close, so the replacement
/// resets none. Descriptors that are not listening TCP sockets are closed on arrival. Once the
/// engine runs, `confirmKept` tells the predecessor which were taken.
public final class InheritedListeners: Sendable {
    private struct Entry: Sendable {
        /// Where it came in the predecessor's list: how the confirmation names it.
        let position: Int
        let socket: Descriptor
    }

    private let available: Mutex<[IPEndpoint: [Entry]]>
    private let taken = Mutex<[Int]>([])
    private let confirmation: Mutex<Descriptor>
    /// Sockets received that are listening TCP sockets.
    public let count: Int

    /// `confirmingTo`: the handover connection, kept open for the confirmation (closed by it).
    public init(_ descriptors: [Descriptor], confirmingTo connection: Descriptor = .none) {
        var byAddress: [IPEndpoint: [Entry]] = [:]
        var count = 0
        for (position, descriptor) in descriptors.enumerated() {
            guard descriptor.isListeningTCPSocket, let bound = (try? descriptor.localAddress()).flatMap(IPEndpoint.init) else {
                descriptor.closeNow()
                continue
            }
            byAddress[bound, default: []].append(Entry(position: position, socket: descriptor))
            count += 1
        }
        self.available = Mutex(byAddress)
        self.confirmation = Mutex(connection)
        self.count = count
    }

    deinit {
        confirmation.withLock { $0.closeNow() }
    }

    /// A socket bound where `listen` would bind (an empty host: the dual-stack wildcard, or
    /// 0.0.0.0 where IPv6 is off), or nil. Port 0 asks for a fresh port, so never an inherited one.
    func take(_ listen: ListenAddress) -> Descriptor? {
        guard listen.port != 0 else { return nil }
        let candidates = listen.host.map { [$0] } ?? [.v6(.any), .v4(.any)]
        let entry = available.withLock { available -> Entry? in
            for host in candidates {
                let endpoint = IPEndpoint(address: host, port: listen.port)
                if let entry = available[endpoint]?.popLast() { return entry }
            }
            return nil
        }
        guard let entry else { return nil }
        taken.withLock { $0.append(entry.position) }
        return entry.socket
    }

    /// Closes what no service took (more sockets than workers, services that are gone). The
    /// predecessor still holds them; they stop listening when it exits.
    func closeUnused() -> Int {
        available.withLock { available in
            let unused = available.values.joined()
            unused.forEach { $0.socket.closeNow() }
            available = [:]
            return unused.count
        }
    }

    /// Tells the predecessor which sockets this process kept (`ListenerHandover`), then hangs
    /// up. Returns why it could not, or nil.
    public func confirmKept() -> String? {
        let message = KeptSocketsMessage.encode(taken.withLock { $0 })
        return confirmation.withLock { connection -> String? in
            defer {
                connection.closeNow()
                connection = .none
            }
            guard connection.isValid else { return "the handover connection is gone" }
            guard let message else { return "more sockets than a confirmation can name" }
            var offset = 0
            while offset < message.count {
                let sent = message[offset...].withUnsafeBytes { send(connection.rawValue, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0 {
                    if errno == EINTR { continue }
                    return "\(Errno.current)"
                }
                offset += sent
            }
            return nil
        }
    }
}
