/// What a request was for. A request about a connection also names the side (which direction's
/// socket) and, for receives, the buffer pool it picks from.
enum Verb: UInt8, CaseIterable {
    /// Multishot accept on a listener (slot: the listener's index).
    case accept = 1
    /// Read of the worker's wake-up eventfd.
    case wake
    /// A cancel request; its own completion carries nothing to act on.
    case cancel
    /// close() of a finished connection's descriptor (its slot may be reused already).
    case closeDescriptor
    /// A read from /dev/zero taking one idle buffer out of a pool's ring (pool: which).
    case bufferDrain
    /// Receive from the client into the connection's scratch chunk: header detection, early
    /// bytes, HTTP requests.
    case peek
    case connect
    /// The connect's linked timeout.
    case connectTimeout
    /// Provided-buffer receive from a direction's source, send to its sink (copy mode).
    case receive
    case send
    /// While a direction waits for buffers: a poll for errors on its source.
    case watch
    /// Splice mode: source -> pipe, pipe -> sink, and the polls that wait for readiness.
    case spliceFill
    case spliceDrain
    case pollFill
    case pollDrain
    /// Sends to and receives from a `-F` hop while negotiating (upstream socket, scratch chunk).
    case hopSend
    case hopReceive
    /// A poll on one of the resolver's sockets (slot: the descriptor; generation: which arming).
    case resolverPoll
}

/// Which way bytes flow: `inbound` is client -> upstream, `outbound` upstream -> client.
enum Side: UInt8 {
    case inbound = 0
    case outbound = 1
}

/// The provided-buffer pool a receive picks from.
enum Pool: UInt8 {
    case main = 0
    /// Small buffers for when slow readers hold the whole main pool.
    case reserve = 1
}

/// A request's user_data: `verb` (6 bits) | `side` (1) | `pool` (1) | slot generation (24) |
/// slot index (32). A completion whose generation differs from its slot's current one belongs to
/// an earlier occupant of the slot and is dropped.
struct UserData: Equatable {
    var verb: Verb
    var side: Side = .inbound
    var pool: Pool = .main
    var generation: UInt32 = 0
    var slot: Int32

    static let generationMask: UInt32 = 0xFF_FFFF

    @inline(__always)
    init(_ verb: Verb, slot: Int32, generation: UInt32 = 0, side: Side = .inbound, pool: Pool = .main) {
        self.verb = verb
        self.side = side
        self.pool = pool
        self.generation = generation & UserData.generationMask
        self.slot = slot
    }

    /// nil for a value no request of ours carries (an unknown verb).
    @inline(__always)
    init?(packed value: UInt64) {
        guard let verb = Verb(rawValue: UInt8(truncatingIfNeeded: value >> 58)) else { return nil }
        self.verb = verb
        side = value >> 57 & 1 == 0 ? .inbound : .outbound
        pool = value >> 56 & 1 == 0 ? .main : .reserve
        generation = UInt32(truncatingIfNeeded: value >> 32) & UserData.generationMask
        slot = Int32(bitPattern: UInt32(truncatingIfNeeded: value))
    }

    @inline(__always)
    var packed: UInt64 {
        UInt64(verb.rawValue) << 58 | UInt64(side.rawValue) << 57 | UInt64(pool.rawValue) << 56
            | UInt64(generation & UserData.generationMask) << 32 | UInt64(UInt32(bitPattern: slot))
    }
}
