import Uring

/// Fixed-capacity storage for connections: one anonymous mapping, slots initialized on first
/// use (so untouched capacity costs no memory), freed slots reused last-in first-out (so the
/// working set stays in the same pages).
struct ConnectionSlab: ~Copyable {
    let capacity: Int
    let slots: UnsafeMutablePointer<Connection>
    private let memory: AnonymousMemory
    private var initialized = 0
    private var freeHead: Int32 = -1
    private(set) var active = 0

    init(capacity: Int) throws(Errno) {
        precondition(capacity > 0 && capacity < Int(Int32.max))
        memory = try AnonymousMemory(length: capacity * MemoryLayout<Connection>.stride)
        self.capacity = capacity
        self.slots = memory.base.bindMemory(to: Connection.self, capacity: capacity)
    }

    deinit {
        slots.deinitialize(count: initialized)
    }

    /// A free slot (phase `.free`, generation already advanced), or nil when full.
    mutating func allocate() -> Slot? {
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
        return self[index]
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
    subscript(_ index: Int32) -> Slot {
        Slot(index: index, connection: slots + Int(index))
    }

    /// The slot `userData` names, if its occupant is the one the request was made for.
    @inline(__always)
    func current(_ userData: UserData) -> Slot? {
        guard userData.slot >= 0, Int(userData.slot) < initialized else { return nil }
        let slot = self[userData.slot]
        guard slot.connection.pointee.generation == userData.generation else { return nil }
        if case .free = slot.connection.pointee.phase { return nil }
        return slot
    }

    /// Slots ever handed out; iteration bound for sweeps (drain, shutdown).
    var highWater: Int { initialized }
}
