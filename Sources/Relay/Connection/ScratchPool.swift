import Uring

/// Per-connection working memory for the short phases that need contiguous bytes: collecting a
/// PROXY header that may arrive in pieces, building the preamble (outgoing header + early client
/// bytes) that leaves in one send, and answering built-in HTTP services. A connection holds a
/// chunk only during those phases; relaying uses the provided-buffer ring instead.
///
/// Chunks come from one anonymous mapping and are reused last-in first-out, so resident memory
/// follows the peak number of connections in those phases, not the pool's capacity.
struct ScratchPool: ~Copyable {
    let chunkSize: Int
    let capacity: Int
    private let memory: AnonymousMemory
    private let freeList: UnsafeMutablePointer<Int32>
    private var freeCount = 0
    private var neverUsed: Int32 = 0

    init(chunkSize: Int, capacity: Int) throws(Errno) {
        memory = try AnonymousMemory(length: chunkSize * capacity)
        self.chunkSize = chunkSize
        self.capacity = capacity
        self.freeList = .allocate(capacity: capacity)
    }

    deinit {
        freeList.deallocate()
    }

    mutating func allocate() -> Int32? {
        if freeCount > 0 {
            freeCount -= 1
            return freeList[freeCount]
        }
        guard Int(neverUsed) < capacity else { return nil }
        defer { neverUsed += 1 }
        return neverUsed
    }

    mutating func free(_ chunk: Int32) {
        freeList[freeCount] = chunk
        freeCount += 1
    }

    @inline(__always)
    func base(_ chunk: Int32) -> UnsafeMutableRawPointer {
        memory.base + Int(chunk) * chunkSize
    }
}
