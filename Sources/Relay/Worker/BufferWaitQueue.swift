/// Directions whose receive found the buffer pool empty, in arrival order. The links live in
/// the directions themselves (`Direction.waitNext`/`waitPrevious`), so a connection that closes
/// leaves the queue at once, and the queue never holds more entries than there are directions.
///
/// An entry is a key: slot index × 2, plus 1 for the outbound direction.
struct BufferWaitQueue {
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private(set) var count = 0

    static func key(_ index: Int32, _ side: Side) -> Int32 { index << 1 | (side == .inbound ? 0 : 1) }
    static func slot(of key: Int32) -> Int32 { key >> 1 }
    static func side(of key: Int32) -> Side { key & 1 == 0 ? .inbound : .outbound }

    /// Queues `key`'s direction; the caller has set its `waitingForBuffers` and it is not queued.
    mutating func append(_ key: Int32, in slots: UnsafeMutablePointer<Connection>) {
        let flow = direction(key, slots)
        flow.pointee.waitPrevious = tail
        flow.pointee.waitNext = -1
        if tail >= 0 { direction(tail, slots).pointee.waitNext = key } else { head = key }
        tail = key
        count += 1
    }

    /// Takes `key`'s direction out of the queue (it must be queued).
    mutating func remove(_ key: Int32, in slots: UnsafeMutablePointer<Connection>) {
        let flow = direction(key, slots)
        let (previous, next) = (flow.pointee.waitPrevious, flow.pointee.waitNext)
        if previous >= 0 { direction(previous, slots).pointee.waitNext = next } else { head = next }
        if next >= 0 { direction(next, slots).pointee.waitPrevious = previous } else { tail = previous }
        flow.pointee.waitPrevious = -1
        flow.pointee.waitNext = -1
        count -= 1
    }

    /// The longest-waiting key, taken out of the queue, or nil when empty.
    mutating func removeFirst(in slots: UnsafeMutablePointer<Connection>) -> Int32? {
        guard head >= 0 else { return nil }
        let key = head
        remove(key, in: slots)
        return key
    }

    private func direction(_ key: Int32, _ slots: UnsafeMutablePointer<Connection>) -> UnsafeMutablePointer<Direction> {
        let connection = slots + Int(Self.slot(of: key))
        let offset = Self.side(of: key) == .inbound ? Connection.inboundOffset : Connection.outboundOffset
        return (UnsafeMutableRawPointer(connection) + offset).assumingMemoryBound(to: Direction.self)
    }
}
