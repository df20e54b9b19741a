import CLiburing
import Glibc

/// A ring of equal-sized buffers the kernel picks from when a receive completes
/// (`IOSQE_BUFFER_SELECT`). Both the ring entries and the buffers live in anonymous mappings:
/// pages become resident only once the kernel has written into them.
///
/// The kernel takes buffers first-in first-out, so every buffer in circulation gets touched
/// sooner or later. Only `initialCount` circulate at first; `grow(by:)` adds more when a receive
/// finds the ring empty, never more than `circulationLimit` (the owner's memory ceiling).
/// `release(_:)` takes a buffer the owner holds out of circulation and hands its pages back to
/// the kernel, so memory follows recent demand, not the peak since start.
///
/// Only buffers the owner holds (reported by a completion, not yet recycled) are ever released:
/// a buffer in the ring may be written by the kernel at any moment.
public struct ProvidedBufferRing: ~Copyable {
    public let group: UInt16
    /// Capacity: buffers the ring can ever hold.
    public let bufferCount: Int
    public let bufferSize: Int
    /// The most buffers in circulation at once (at most `bufferCount`).
    public let circulationLimit: Int
    /// Buffers in circulation: in the ring, or held by the owner.
    public private(set) var circulating = 0
    /// Buffers in the ring that no completion has reported taken.
    public var available: Int { availableCount }
    @usableFromInline
    var availableCount = 0

    @usableFromInline
    let entries: UnsafeMutablePointer<io_uring_buf_ring>
    @usableFromInline
    let storage: UnsafeMutableRawPointer
    private let entriesMemory: AnonymousMemory
    private let storageMemory: AnonymousMemory
    @usableFromInline
    let mask: Int32
    /// Buffers written back into the ring but not yet published to the kernel.
    @usableFromInline
    var unpublished: Int32 = 0
    /// Ids out of circulation whose memory was released, reused before never-used ones.
    private let parked: UnsafeMutablePointer<UInt16>
    private var parkedCount = 0
    /// Ids `neverUsed..<bufferCount` have never been in circulation.
    private var neverUsed = 0

    /// `count` must be a power of two no larger than 32768 (16-bit ids, ring index mask). The
    /// kernel sees the ring once it is `register`ed with a ring.
    public init(
        group: UInt16, count: Int, size: Int, initialCount: Int? = nil, circulationLimit: Int? = nil
    ) throws(Errno) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count must be a power of two")
        precondition(size > 0 && size <= Int(Int32.max), "buffer size out of range")
        let page = AnonymousMemory.pageSize
        let entriesMemory = try AnonymousMemory(length: (count * MemoryLayout<io_uring_buf>.stride + page - 1) / page * page)
        let storageMemory = try AnonymousMemory(length: count * size)
        entries = entriesMemory.base.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        storage = storageMemory.base
        self.entriesMemory = entriesMemory
        self.storageMemory = storageMemory
        ringway_buf_ring_init(entries)
        self.group = group
        self.bufferCount = count
        self.bufferSize = size
        self.circulationLimit = min(max(circulationLimit ?? count, 1), count)
        self.mask = Int32(count - 1)
        self.parked = .allocate(capacity: count)
        grow(by: min(initialCount ?? count, count))
    }

    deinit {
        parked.deallocate()
    }

    /// Makes the ring the kernel's buffer group `group` on `ring`.
    public func register(with ring: RingView) throws(Errno) {
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: entriesMemory.base))
        registration.ring_entries = UInt32(bufferCount)
        registration.bgid = group
        try ring.registerBufferRing(&registration)
    }

    /// Puts up to `count` more buffers into circulation, released ones first; returns how many
    /// were added.
    @discardableResult
    public mutating func grow(by count: Int) -> Int {
        let added = min(count, circulationLimit - circulating)
        guard added > 0 else { return 0 }
        for _ in 0..<added {
            let id: UInt16
            if parkedCount > 0 {
                parkedCount -= 1
                id = parked[parkedCount]
            } else {
                id = UInt16(neverUsed)
                neverUsed += 1
            }
            recycle(id)
        }
        circulating += added
        publish()
        return added
    }

    /// A completion reported one of the ring's buffers taken.
    @inlinable
    public mutating func noteTaken() {
        availableCount -= 1
    }

    /// Takes held buffer `id` out of circulation and gives its memory back to the kernel
    /// (MADV_DONTNEED: the pages read as zeros next time, and count for nothing until then).
    public mutating func release(_ id: UInt16) {
        storageMemory.release(buffer(id), count: bufferSize)
        parked[parkedCount] = id
        parkedCount += 1
        circulating -= 1
    }

    /// Detaches the pool from `ring`; call before the pool goes away while the ring lives on.
    public func unregister(from ring: RingView) {
        ring.unregisterBufferRing(group: group)
    }

    /// The memory of buffer `id`.
    @inlinable
    public func buffer(_ id: UInt16) -> UnsafeMutableRawPointer {
        storage + Int(id) * bufferSize
    }

    /// Gives buffer `id` back to the kernel; takes effect at the next `publish()`.
    @inlinable
    public mutating func recycle(_ id: UInt16) {
        ringway_buf_ring_add(entries, buffer(id), UInt32(bufferSize), id, mask, unpublished)
        unpublished += 1
        availableCount += 1
    }

    /// Makes every recycled buffer visible to the kernel with one release store.
    @inlinable
    public mutating func publish() {
        guard unpublished > 0 else { return }
        ringway_buf_ring_advance(entries, unpublished)
        unpublished = 0
    }
}
