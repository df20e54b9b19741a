/// A hashed timing wheel over the connection slab: 10 ms ticks, 1024 buckets (one revolution is
/// 10.24 s). Each connection has at most one deadline (header, idle, or drain), linked into its
/// bucket through fields of the slot itself, so scheduling allocates nothing. Deadlines further
/// than one revolution away stay in their bucket and are skipped until their turn comes.
struct TimerWheel: ~Copyable {
    static let tickMilliseconds: UInt64 = 10
    static let bucketCount = 1024

    private let heads: UnsafeMutablePointer<Int32>
    /// The last tick whose bucket has been examined.
    private var processedTick: UInt64
    private(set) var count = 0

    init(nowMilliseconds: UInt64) {
        heads = .allocate(capacity: TimerWheel.bucketCount)
        heads.initialize(repeating: -1, count: TimerWheel.bucketCount)
        processedTick = nowMilliseconds / TimerWheel.tickMilliseconds
    }

    deinit {
        heads.deallocate()
    }

    /// Sets (or moves) the deadline of connection `index`, in milliseconds of the worker clock.
    mutating func schedule(_ index: Int32, deadline: UInt64, in slots: UnsafeMutablePointer<Connection>) {
        cancel(index, in: slots)
        // The first tick at or after the deadline: when that bucket comes up, the deadline has
        // passed (rounding down would find it a few ms early and skip it for a revolution).
        let tick = max((deadline + TimerWheel.tickMilliseconds - 1) / TimerWheel.tickMilliseconds, processedTick + 1)
        let bucket = Int32(tick % UInt64(TimerWheel.bucketCount))
        let connection = slots + Int(index)
        connection.pointee.timerDeadline = deadline
        connection.pointee.timerBucket = bucket
        connection.pointee.timerPrevious = -1
        connection.pointee.timerNext = heads[Int(bucket)]
        if heads[Int(bucket)] >= 0 { slots[Int(heads[Int(bucket)])].timerPrevious = index }
        heads[Int(bucket)] = index
        count += 1
    }

    mutating func cancel(_ index: Int32, in slots: UnsafeMutablePointer<Connection>) {
        let connection = slots + Int(index)
        let bucket = connection.pointee.timerBucket
        guard bucket >= 0 else { return }
        let next = connection.pointee.timerNext
        let previous = connection.pointee.timerPrevious
        if previous >= 0 { slots[Int(previous)].timerNext = next } else { heads[Int(bucket)] = next }
        if next >= 0 { slots[Int(next)].timerPrevious = previous }
        connection.pointee.timerBucket = -1
        connection.pointee.timerNext = -1
        connection.pointee.timerPrevious = -1
        count -= 1
    }

    /// Unlinks every connection whose deadline is at or before `now` and returns them as a list
    /// threaded through `timerNext` (-1 ends it). The caller handles each and may reschedule.
    mutating func expire(nowMilliseconds now: UInt64, in slots: UnsafeMutablePointer<Connection>) -> Int32 {
        let nowTick = now / TimerWheel.tickMilliseconds
        guard nowTick > processedTick else { return -1 }
        var expired: Int32 = -1
        // After a long stall every bucket is due once; no need to go round more than once.
        let steps = min(nowTick - processedTick, UInt64(TimerWheel.bucketCount))
        for step in 1...steps where count > 0 {
            let bucket = Int((processedTick + step) % UInt64(TimerWheel.bucketCount))
            var index = heads[bucket]
            while index >= 0 {
                let next = slots[Int(index)].timerNext
                if slots[Int(index)].timerDeadline <= now {
                    cancel(index, in: slots)
                    slots[Int(index)].timerNext = expired
                    expired = index
                }
                index = next
            }
        }
        processedTick = nowTick
        return expired
    }
}
