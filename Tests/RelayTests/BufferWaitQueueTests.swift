@testable import Relay
import RingwayTestSupport
import Testing

/// Directions waiting for receive buffers. Entries leave with their connection, so churn cannot
/// fill the queue with dead entries (which used to end in a `precondition` crash).
@Suite("Buffer wait queue")
struct BufferWaitQueueTests {
    static let slotCount = 16

    final class Slots {
        let pointer = UnsafeMutablePointer<Connection>.allocate(capacity: BufferWaitQueueTests.slotCount)
        init() { pointer.initialize(repeating: Connection(), count: BufferWaitQueueTests.slotCount) }
        deinit { pointer.deallocate() }
    }

    @Test func keysRoundTrip() {
        for index: Int32 in [0, 1, 7, 1 << 20] {
            for side in [Side.inbound, Side.outbound] {
                let key = BufferWaitQueue.key(index, side)
                #expect(BufferWaitQueue.slot(of: key) == index)
                #expect(BufferWaitQueue.side(of: key) == side)
            }
        }
    }

    /// A million random appends, removals (a connection closing) and serves, checked against
    /// a plain array: the order is first come first served, and the count never exceeds the
    /// number of directions however long the churn goes on.
    @Test func churnMatchesAReferenceQueueAndStaysBounded() {
        let slots = Slots()
        var queue = BufferWaitQueue()
        var reference: [Int32] = []
        var random = SplitMix64(state: 42)
        for _ in 0..<1_000_000 {
            let key = Int32(random.next(in: 0...(2 * Self.slotCount - 1)))
            switch random.next() % 3 {
            case 0 where !reference.contains(key):
                queue.append(key, in: slots.pointer)
                reference.append(key)
            case 1 where reference.contains(key):
                queue.remove(key, in: slots.pointer)
                reference.removeAll { $0 == key }
            default:
                let served = queue.removeFirst(in: slots.pointer)
                #expect(served == reference.first)
                if !reference.isEmpty { reference.removeFirst() }
            }
            #expect(queue.count == reference.count)
            #expect(queue.count <= 2 * Self.slotCount)
        }
        while let key = queue.removeFirst(in: slots.pointer) { #expect(key == reference.removeFirst()) }
        #expect(reference.isEmpty && queue.count == 0)
    }
}
