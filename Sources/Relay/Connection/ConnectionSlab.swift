import Glibc

/// Fixed-capacity storage for connections: one anonymous mapping, slots initialized on first
/// use (so untouched capacity costs no memory), freed slots reused last-in first-out (so the
/// working set stays in the same pages).
struct ConnectionSlab: ~Copyable {
    let capacity: Int
    let slots: UnsafeMutablePointer<Connection>
    private let mappingLength: Int
    private var initialized = 0
    private var freeHead: Int32 = -1
    private(set) var active = 0

    init(capacity: Int) {
        precondition(capacity > 0 && capacity < Int(Int32.max))
        let length = capacity * MemoryLayout<Connection>.stride
        let memory = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let memory, memory != MAP_FAILED else {
            fatalError("cannot reserve \(length) bytes for \(capacity) connection slots: \(errno)")
        }
        self.capacity = capacity
        self.slots = memory.bindMemory(to: Connection.self, capacity: capacity)
        self.mappingLength = length
    }

    deinit {
        slots.deinitialize(count: initialized)
        munmap(slots, mappingLength)
    }

    /// A free slot (state `.free`, generation already advanced), or nil when full.
    mutating func allocate() -> Int32? {
        let index: Int32
        if freeHead >= 0 {
            index = freeHead
            freeHead = slots[Int(index)].nextFree
        } else if initialized < capacity {
            index = Int32(initialized)
            (slots + initialized).initialize(to: Connection())
            initialized += 1
        } else {
            return nil
        }
        active += 1
        return index
    }

    /// Resets the slot for its next occupant and bumps its generation, so completions still
    /// addressed to the old occupant are recognised as stale.
    mutating func free(_ index: Int32) {
        let generation = (slots[Int(index)].generation &+ 1) & UserData.generationMask
        slots[Int(index)] = Connection()
        slots[Int(index)].generation = generation
        slots[Int(index)].nextFree = freeHead
        freeHead = index
        active -= 1
    }

    @inline(__always)
    subscript(_ index: Int32) -> UnsafeMutablePointer<Connection> {
        slots + Int(index)
    }

    /// Slots ever handed out; iteration bound for sweeps (drain, shutdown).
    var highWater: Int { initialized }
}
