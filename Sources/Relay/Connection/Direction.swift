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

/// One direction of a relayed connection: bytes received from a source socket, queued, and sent
/// to a sink socket. At most one receive and one send are in flight, so bytes leave in the order
/// they arrived; at most `Direction.capacity` buffers are held, so a slow sink stops the source's
/// receives instead of growing memory.
struct Direction {
    static let capacity = 8

    var queue = InlineArray<8, PendingSend>(repeating: PendingSend(buffer: 0, start: 0, end: 0))
    var head: UInt8 = 0
    var count: UInt8 = 0
    var receiveArmed = false
    var sendInFlight = false
    /// The source sent FIN: no more receives.
    var sourceClosed = false
    /// shutdown(SHUT_WR) went to the sink after the last byte.
    var sinkShutdown = false
    /// A receive failed with -ENOBUFS; re-armed when buffers come back. While set, the
    /// direction is in the worker's `BufferWaitQueue`, linked through these two keys.
    var waitingForBuffers = false
    var waitNext: Int32 = -1
    var waitPrevious: Int32 = -1
    /// A poll for errors on the source is armed (see `Worker.watchSource`).
    var watchArmed = false
    /// The last receive left the socket empty, so the next one may wait for data straight away.
    var sourceDrained = false
    /// Splice mode: bytes sitting in this direction's pipe.
    var pipeBytes: UInt32 = 0
    var bytes: UInt64 = 0

    var isEmpty: Bool { count == 0 }

    /// The direction has nothing left to do: source finished and everything was flushed.
    var isFinished: Bool { sinkShutdown }

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
}
