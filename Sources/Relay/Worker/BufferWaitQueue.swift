/// Connections whose receive found the buffer pool empty, in arrival order. Each entry names a
/// slot, its generation at the time, and the direction; stale entries are skipped when served.
struct BufferWaitQueue: ~Copyable {
    private let entries: UnsafeMutablePointer<UInt64>
    private let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    deinit {
        entries.deallocate()
    }

    /// Each direction waits at most once (guarded by `Direction.waitingForBuffers`), so
    /// `capacity` of twice the slab never overflows.
    mutating func append(_ entry: UInt64) {
        precondition(count < capacity, "buffer wait queue overflow")
        entries[(head + count) % capacity] = entry
        count += 1
    }

    mutating func removeFirst() -> UInt64 {
        let entry = entries[head]
        head = (head + 1) % capacity
        count -= 1
        return entry
    }
}
