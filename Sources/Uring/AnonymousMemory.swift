import Glibc

/// Private anonymous memory (mmap), reserved without being charged (MAP_NORESERVE): pages
/// become resident only when first written, and `release` hands written pages back.
public struct AnonymousMemory: ~Copyable {
    public let base: UnsafeMutableRawPointer
    public let length: Int

    public init(length: Int) throws(Errno) {
        let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else { throw Errno.current }
        self.base = memory
        self.length = length
    }

    deinit {
        munmap(base, length)
    }

    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// MADV_DONTNEED on the whole pages inside `start ..< start + count`: they read as zeros next
    /// time and count for nothing until then (MADV_FREE would keep them in RSS until memory
    /// pressure). A page shared with memory outside the range stays.
    public func release(_ start: UnsafeMutableRawPointer, count: Int) {
        let page = UInt(Self.pageSize)
        let address = UInt(bitPattern: start)
        let first = (address + page - 1) / page * page
        let end = (address + UInt(count)) / page * page
        guard end > first else { return }
        _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(end - first), MADV_DONTNEED)
    }
}
