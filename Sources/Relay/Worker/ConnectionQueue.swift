/// Connections of one service waiting for a place under maxConnections, oldest first, linked
/// through `Connection.queueNext`/`queuePrevious` so one that closes leaves at once.
struct ConnectionQueue {
    private var head: Int32 = -1
    private var tail: Int32 = -1
    private(set) var count = 0

    var first: Int32? { head >= 0 ? head : nil }

    mutating func append(_ index: Int32, in slots: UnsafeMutablePointer<Connection>) {
        slots[Int(index)].queuePrevious = tail
        slots[Int(index)].queueNext = -1
        if tail >= 0 { slots[Int(tail)].queueNext = index } else { head = index }
        tail = index
        count += 1
    }

    mutating func remove(_ index: Int32, in slots: UnsafeMutablePointer<Connection>) {
        let (previous, next) = (slots[Int(index)].queuePrevious, slots[Int(index)].queueNext)
        if previous >= 0 { slots[Int(previous)].queueNext = next } else { head = next }
        if next >= 0 { slots[Int(next)].queuePrevious = previous } else { tail = previous }
        slots[Int(index)].queuePrevious = -1
        slots[Int(index)].queueNext = -1
        count -= 1
    }
}
