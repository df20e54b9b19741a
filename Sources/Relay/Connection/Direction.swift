/// Where a queued send's bytes live.
struct PendingSend {
    /// The connection's scratch chunk rather than a provided buffer.
    static let scratch: UInt16 = 0xFFFF
    /// Set on buffer ids from the reserve pool (their ids stay below 0x4000).
    static let reserveFlag: UInt16 = 0x8000

    var buffer: UInt16
    /// Unsent bytes are `start..<end` of the buffer (or chunk); a short send moves `start`.
    var start: UInt32
    var end: UInt32
}

/// One direction of a relayed connection: bytes read from a source socket and written to a sink.
/// At most one read and one write are in flight, so bytes leave in the order they arrived.
/// Copy mode queues at most `Direction.capacity` received buffers, so a slow sink stops the
/// source's receives instead of growing memory; splice mode keeps the bytes in a pipe.
struct Direction {
    static let capacity = 8

    var queue = InlineArray<8, PendingSend>(repeating: PendingSend(buffer: 0, start: 0, end: 0))
    var head: UInt8 = 0
    var count: UInt8 = 0
    // The flags sit together so the struct stays 128 bytes (idle memory per connection).
    /// A read from the source is in flight: a receive (copy), a fill or a wait for readable (splice).
    var reading = false
    /// Copy mode: the receive in flight is multishot; it stays armed across completions until
    /// one arrives without IORING_CQE_F_MORE.
    var multishot = false
    /// A cancel of the multishot receive is in flight because the direction reached its limit.
    var stopping = false
    /// The direction once reached its buffer limit (a bulk transfer whose sink is slower): it
    /// receives single-shot from then on, so backpressure costs no cancel per buffer.
    var singleShot = false
    /// A write to the sink is in flight: a send (copy), a drain or a wait for writable (splice).
    var writing = false
    /// The source sent FIN: no more reads.
    var sourceClosed = false
    /// shutdown(SHUT_WR) went to the sink after the last byte.
    var sinkShutdown = false
    /// A receive found the buffer pool empty; the direction is in the worker's `BufferWaitQueue`
    /// (linked through the two keys) until buffers come back.
    var waitingForBuffers = false
    /// A poll for errors on the source is armed while waiting for buffers.
    var watchArmed = false
    /// The last receive left the socket empty, so the next one may wait for data straight away.
    var sourceDrained = false
    var waitNext: Int32 = -1
    var waitPrevious: Int32 = -1
    /// Splice mode: bytes sitting in this direction's pipe.
    var pipeBytes: UInt32 = 0
    /// Bytes received from the source (logged as inputBytes/outputBytes).
    var bytes: UInt64 = 0

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { Int(count) == Direction.capacity }

    mutating func enqueue(_ send: PendingSend) {
        precondition(Int(count) < Direction.capacity, "direction queue overflow")
        queue[(Int(head) + Int(count)) & (Direction.capacity - 1)] = send
        count += 1
    }

    var first: PendingSend {
        get { queue[Int(head)] }
        set { queue[Int(head)] = newValue }
    }

    mutating func removeFirst() -> PendingSend {
        let send = queue[Int(head)]
        head = UInt8((Int(head) + 1) & (Direction.capacity - 1))
        count -= 1
        return send
    }

    /// Whether any queued send reads from the scratch chunk.
    var usesScratch: Bool {
        (0..<Int(count)).contains { queue[(Int(head) + $0) & (Direction.capacity - 1)].buffer == PendingSend.scratch }
    }
}
