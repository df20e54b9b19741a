/// What an io_uring request was for; travels in the top byte of its user_data.
enum Operation: UInt8 {
    case accept = 1
    case wake
    /// Receive from the client into the connection's scratch chunk (PROXY detection, early
    /// bytes, whoami requests).
    case scratchReceive
    case connect
    case connectTimeout
    /// Provided-buffer receive on the client (inbound) or upstream (outbound) socket.
    case receiveClient
    case receiveUpstream
    /// The same, picking from the reserve pool (the main pool was exhausted).
    case receiveClientFromReserve
    case receiveUpstreamFromReserve
    /// Send to the upstream (inbound data) or the client (outbound data).
    case sendUpstream
    case sendClient
    case cancel
    /// shutdown(SHUT_WR) after a direction's last byte (half-close).
    case shutdown
    /// close() of a finished connection's descriptor; its slot may already be reused.
    case closeDescriptor
    /// Splice mode: socket -> pipe (fill) and pipe -> socket (drain), per direction.
    case spliceFillInbound
    case spliceFillOutbound
    case spliceDrainInbound
    case spliceDrainOutbound
    /// Splice mode: wait until a socket is readable (fill) or writable (drain) before retrying.
    case pollFillInbound
    case pollFillOutbound
    case pollDrainInbound
    case pollDrainOutbound
    /// While a direction waits for buffers: a poll for errors on its source socket (client for
    /// inbound, upstream for outbound), since no receive is there to see a reset.
    case watchClient
    case watchUpstream
    /// A read from /dev/zero that takes one idle buffer out of a pool's ring so its memory can
    /// be released (slot: 0 main pool, 1 reserve).
    case bufferDrain
}

/// user_data layout: operation (8 bits) | slot generation (24 bits) | slot index (32 bits).
/// A completion whose generation differs from its slot's current one belongs to an earlier
/// occupant of the slot and is dropped.
struct UserData {
    static let generationMask: UInt32 = 0xFF_FFFF

    @inline(__always)
    static func pack(_ operation: Operation, slot: Int32, generation: UInt32) -> UInt64 {
        UInt64(operation.rawValue) << 56 | UInt64(generation & generationMask) << 32 | UInt64(UInt32(bitPattern: slot))
    }

    @inline(__always)
    static func operation(_ value: UInt64) -> Operation? { Operation(rawValue: UInt8(truncatingIfNeeded: value >> 56)) }

    @inline(__always)
    static func slot(_ value: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: value)) }

    @inline(__always)
    static func generation(_ value: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: value >> 32) & generationMask }
}
