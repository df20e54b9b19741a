import Uring

/// Received buffers that found their direction's queue full. A multishot receive keeps posting
/// what the kernel read until the cancel that stops it lands (up to its retry limit per wake-up),
/// so a direction at its limit can be handed more buffers than its queue holds. They wait here,
/// in arrival order, until the queue has room.
///
/// Bounded by construction: every entry holds a provided buffer, so there are never more
/// entries than buffers in the worker's rings, and the storage is reserved for that many up
/// front (untouched pages cost nothing). Spills are rare (the direction switches to single-shot
/// receives at its first stop), so lookups walk the list.
struct ReceiveSpill: ~Copyable {
    private struct Entry {
        /// `BufferWaitQueue.key` of the direction.
        var key: Int32
        var send: PendingSend
        var next: Int32
    }

    private let memory: AnonymousMemory
    private let entries: UnsafeMutablePointer<Entry>
    let capacity: Int
    /// Entries never used yet start here; used ones come back through `free`.
    private var unused: Int32 = 0
    private var free: Int32 = -1
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private(set) var count = 0

    init(capacity: Int) throws(Errno) {
        let bytes = max(1, capacity) * MemoryLayout<Entry>.stride
        memory = try AnonymousMemory(length: bytes)
        entries = memory.base.bindMemory(to: Entry.self, capacity: max(1, capacity))
        self.capacity = capacity
    }

    /// Keeps `send` for the direction `key` behind what it already has here. False when full,
    /// which would mean more buffers are held than exist: a bug the caller reports.
    mutating func append(_ key: Int32, _ send: PendingSend) -> Bool {
        let index: Int32
        if free >= 0 {
            index = free
            free = entries[Int(index)].next
        } else if Int(unused) < capacity {
            index = unused
            unused += 1
        } else {
            return false
        }
        entries[Int(index)] = Entry(key: key, send: send, next: -1)
        if tail >= 0 { entries[Int(tail)].next = index } else { head = index }
        tail = index
        count += 1
        return true
    }

    /// The oldest entry of direction `key`, taken out; nil when it has none.
    mutating func removeFirst(_ key: Int32) -> PendingSend? {
        guard count > 0 else { return nil }
        var previous: Int32 = -1
        var index = head
        while index >= 0 {
            let entry = entries[Int(index)]
            if entry.key == key {
                unlink(index, previous: previous)
                return entry.send
            }
            previous = index
            index = entry.next
        }
        return nil
    }

    /// Whether direction `key` has anything here.
    func contains(_ key: Int32) -> Bool {
        var index = head
        while index >= 0 {
            if entries[Int(index)].key == key { return true }
            index = entries[Int(index)].next
        }
        return false
    }

    private mutating func unlink(_ index: Int32, previous: Int32) {
        let next = entries[Int(index)].next
        if previous >= 0 { entries[Int(previous)].next = next } else { head = next }
        if tail == index { tail = previous }
        entries[Int(index)].next = free
        free = index
        count -= 1
    }
}
