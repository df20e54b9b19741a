import CLiburing
import Glibc

/// A ring of equal-sized buffers the kernel picks from when a receive completes
/// (`IOSQE_BUFFER_SELECT`). Both the ring entries and the buffers live in anonymous mappings:
/// pages become resident only once the kernel has written into them.
///
/// The kernel takes buffers first-in first-out, so every buffer in circulation gets touched
/// sooner or later. Only `initialCount` circulate at first; `grow(by:)` adds more when a receive
/// finds the ring empty. Memory then follows the peak demand, not the configured capacity.
public struct ProvidedBufferRing: ~Copyable {
    public let group: UInt16
    /// Capacity: buffers the ring can ever hold.
    public let bufferCount: Int
    public let bufferSize: Int
    /// Buffers handed to the kernel so far (ids 0..<provisioned).
    public private(set) var provisioned = 0

    @usableFromInline
    let entries: UnsafeMutablePointer<io_uring_buf_ring>
    @usableFromInline
    let storage: UnsafeMutableRawPointer
    @usableFromInline
    let entriesLength: Int
    @usableFromInline
    let storageLength: Int
    @usableFromInline
    let mask: Int32
    /// Buffers written back into the ring but not yet published to the kernel.
    @usableFromInline
    var unpublished: Int32 = 0

    /// `count` must be a power of two no larger than 32768 (16-bit ids, ring index mask).
    public init(
        registeringWith ring: borrowing Ring, group: UInt16, count: Int, size: Int, initialCount: Int? = nil
    ) throws(Errno) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count must be a power of two")
        precondition(size > 0 && size <= Int(Int32.max), "buffer size out of range")
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let entriesLength = (count * MemoryLayout<io_uring_buf>.stride + pageSize - 1) / pageSize * pageSize
        let storageLength = count * size
        guard let entriesMemory = anonymousMapping(length: entriesLength) else { throw Errno.current }
        guard let storage = anonymousMapping(length: storageLength) else {
            let code = Errno.current
            munmap(entriesMemory, entriesLength)
            throw code
        }
        let entries = entriesMemory.bindMemory(to: io_uring_buf_ring.self, capacity: 1)
        ringway_buf_ring_init(entries)
        var registration = io_uring_buf_reg()
        registration.ring_addr = UInt64(UInt(bitPattern: entriesMemory))
        registration.ring_entries = UInt32(count)
        registration.bgid = group
        do {
            try ring.registerBufferRing(&registration)
        } catch {
            munmap(entriesMemory, entriesLength)
            munmap(storage, storageLength)
            throw error
        }
        self.group = group
        self.bufferCount = count
        self.bufferSize = size
        self.entries = entries
        self.storage = storage
        self.entriesLength = entriesLength
        self.storageLength = storageLength
        self.mask = Int32(count - 1)
        grow(by: min(initialCount ?? count, count))
    }

    /// Puts up to `count` never-used buffers into circulation; returns how many were added.
    @discardableResult
    public mutating func grow(by count: Int) -> Int {
        let added = min(count, bufferCount - provisioned)
        for id in provisioned..<(provisioned + added) {
            recycle(UInt16(id))
        }
        provisioned += added
        publish()
        return added
    }

    deinit {
        munmap(UnsafeMutableRawPointer(entries), entriesLength)
        munmap(storage, storageLength)
    }

    /// Detaches the pool from `ring`; call before the pool goes away while the ring lives on.
    public func unregister(from ring: borrowing Ring) {
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
    }

    /// Makes every recycled buffer visible to the kernel with one release store.
    @inlinable
    public mutating func publish() {
        guard unpublished > 0 else { return }
        ringway_buf_ring_advance(entries, unpublished)
        unpublished = 0
    }
}

func anonymousMapping(length: Int) -> UnsafeMutableRawPointer? {
    // NORESERVE: a large pool is address space until traffic fills it; do not charge it up front.
    let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
    guard let memory, memory != MAP_FAILED else { return nil }
    return memory
}
