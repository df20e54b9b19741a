import ProxyProtocol
import Uring

/// One client connection and its upstream, stored by value in the worker's slab: what every
/// phase needs, plus the phase itself with what only it needs.
///
/// Plain data only (no references), so the slab holds it without ARC and a freed slot is reused
/// without allocation. `generation` changes every time the slot is freed; completions carry it.
struct Connection {
    var phase = Phase.free
    var generation: UInt32 = 0
    /// The service slot it counts under, and the settings (model) it started on, which a
    /// reload never changes under it.
    var service: UInt16 = 0
    var model: UInt16 = 0
    /// Requests submitted for this slot whose final completion has not arrived yet.
    var inflight: UInt16 = 0
    var clientSocket = Descriptor.none
    var upstreamSocket = Descriptor.none

    /// client -> upstream, and upstream -> client.
    var inbound = Direction()
    var outbound = Direction()

    /// The scratch chunk this connection holds (-1: none), how many bytes were received into its
    /// incoming area, and whether a receive into it (a peek) is in flight.
    var scratch: Int32 = -1
    var scratchFilled: UInt32 = 0
    var peeking = false

    /// The socket peer, and the client and destination a trusted PROXY header named.
    var peer: IPEndpoint? = nil
    var proxiedClient: IPEndpoint? = nil
    var proxiedDestination: IPEndpoint? = nil
    /// Per-connection id (PROXY v2 UNIQUE_ID, `sid` in logs).
    var id: UInt64 = 0

    var openedAt: UInt64 = 0
    /// Coarse clock (ms) of the last byte moved; the idle timer compares against it.
    var lastActivity: UInt64 = 0

    /// Timer wheel membership: bucket (-1: none), neighbours, deadline (ms).
    var timerBucket: Int32 = -1
    var timerNext: Int32 = -1
    var timerPrevious: Int32 = -1
    var timerDeadline: UInt64 = 0

    /// The connection holds one of its service's places (counted in its active connections).
    var holdsServicePlace = false
    /// While queued for a place: neighbours in the worker's queue for its service.
    var queueNext: Int32 = -1
    var queuePrevious: Int32 = -1

    /// Slab free list.
    var nextFree: Int32 = -1

    /// The client as the world should see it: the PROXY source when one was accepted.
    var client: IPEndpoint? { proxiedClient ?? peer }
}

extension Connection {
    static let inboundOffset = MemoryLayout<Connection>.offset(of: \Connection.inbound)!
    static let outboundOffset = MemoryLayout<Connection>.offset(of: \Connection.outbound)!
}

/// A connection's slot as handlers receive it: where it lives and its index (for user_data,
/// timers and queues), so nothing looks it up again.
struct Slot {
    let index: Int32
    let connection: UnsafeMutablePointer<Connection>

    /// This slot's direction `side`, in place.
    @inline(__always)
    func direction(_ side: Side) -> UnsafeMutablePointer<Direction> {
        let offset = side == .inbound ? Connection.inboundOffset : Connection.outboundOffset
        return (UnsafeMutableRawPointer(connection) + offset).assumingMemoryBound(to: Direction.self)
    }

    /// The socket a direction reads from, and the one it writes to.
    @inline(__always)
    func source(_ side: Side) -> Descriptor {
        side == .inbound ? connection.pointee.clientSocket : connection.pointee.upstreamSocket
    }

    @inline(__always)
    func sink(_ side: Side) -> Descriptor {
        side == .inbound ? connection.pointee.upstreamSocket : connection.pointee.clientSocket
    }

    /// The user_data of a request about this connection.
    @inline(__always)
    func userData(_ verb: Verb, _ side: Side = .inbound, pool: Pool = .main) -> UserData {
        UserData(verb, slot: index, generation: connection.pointee.generation, side: side, pool: pool)
    }
}
