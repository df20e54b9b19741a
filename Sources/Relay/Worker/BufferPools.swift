import Uring

/// How many buffers one pool needed lately: buffers taken from its ring plus receives that found
/// it empty, per loop turn, the largest since the last trim.
struct BufferDemand {
    var thisTurn = 0
    var peak = 0
    /// Drain reads submitted whose completion has not arrived.
    var drainsInFlight = 0

    mutating func endTurn() {
        peak = max(peak, thisTurn)
        thisTurn = 0
    }
}

/// A worker's receive buffers: the main pool, the reserve that keeps connections moving while
/// slow readers hold the main pool, the directions waiting for buffers, and the bookkeeping
/// that makes memory follow demand.
///
/// A buffer is named by a tag: its id, with `PendingSend.reserveFlag` set for the reserve.
struct BufferPools: ~Copyable {
    var main: ProvidedBufferRing
    var reserve: ProvidedBufferRing
    var mainDemand = BufferDemand()
    var reserveDemand = BufferDemand()
    var waiters = BufferWaitQueue()
    /// Buffers a multishot receive delivered to a direction whose queue was full.
    var spill: ReceiveSpill
    /// The main pool was found empty at its limit: receives use the reserve until one returns.
    var mainExhausted = false
    var lastExhaustionLog: UInt64 = 0
    /// Buffers completions handed us that we have not given back.
    var held = 0
    /// Buffers handed back since waiters were last served.
    var recycledThisTurn = 0
    /// When idle buffers are next taken out of the rings.
    var nextTrim: UInt64 = 0

    static let mainGroup: UInt16 = 0
    static let reserveGroup: UInt16 = 1
    /// Buffers in circulation at start; the main pool doubles when receives find it empty and
    /// none came back in a loop turn (they are held, not passing through).
    static let initialBuffers = 64
    static let reserveLowWater = 16
    static let trimIntervalMilliseconds: UInt64 = 1000
    /// Drain reads per pool per trim, so one trim never floods the submission queue.
    static let drainBatch = 256

    init(plan: BufferPlan, mainCapacity: Int) throws(Errno) {
        let main = try ProvidedBufferRing(
            group: BufferPools.mainGroup, count: mainCapacity, size: plan.mainBufferSize,
            initialCount: min(BufferPools.initialBuffers, plan.mainLimit), circulationLimit: plan.mainLimit)
        // Reserve ids stay below PendingSend.reserveFlag and the scratch marker.
        let reserve = try ProvidedBufferRing(
            group: BufferPools.reserveGroup, count: BufferPlan.reserveBufferCount, size: plan.reserveBufferSize,
            initialCount: 16, circulationLimit: plan.reserveLimit)
        let spill = try ReceiveSpill(capacity: mainCapacity + BufferPlan.reserveBufferCount)
        self.main = main
        self.reserve = reserve
        self.spill = spill
    }

    /// Buffers the main pool keeps however quiet it gets: 8 MiB worth, at least 16.
    var mainLowWater: Int { min(main.circulationLimit, max(16, (8 << 20) / main.bufferSize)) }

    /// The pool a receive should pick from now.
    var receivePool: Pool { mainExhausted ? .reserve : .main }

    static func group(_ pool: Pool) -> UInt16 { pool == .main ? mainGroup : reserveGroup }

    /// A completion carried buffer `id` of `pool`: it is ours now. Returns its tag.
    @inline(__always)
    mutating func took(_ id: UInt16, from pool: Pool) -> UInt16 {
        held += 1
        if pool == .reserve {
            reserve.noteTaken()
            reserveDemand.thisTurn += 1
            return id | PendingSend.reserveFlag
        }
        main.noteTaken()
        mainDemand.thisTurn += 1
        return id
    }

    /// Gives the buffer `tag` names back to its pool.
    @inline(__always)
    mutating func recycle(_ tag: UInt16) {
        if tag & PendingSend.reserveFlag != 0 {
            reserve.recycle(tag & ~PendingSend.reserveFlag)
        } else {
            main.recycle(tag)
            mainExhausted = false
        }
        recycledThisTurn += 1
        held -= 1
    }

    /// The memory of the buffer `tag` names.
    @inline(__always)
    func base(of tag: UInt16) -> UnsafeMutableRawPointer {
        tag & PendingSend.reserveFlag != 0 ? reserve.buffer(tag & ~PendingSend.reserveFlag) : main.buffer(tag)
    }

    /// A receive on `pool` found it empty: counted as demand.
    mutating func noteEmpty(_ pool: Pool) {
        if pool == .reserve { reserveDemand.thisTurn += 1 } else { mainDemand.thisTurn += 1 }
    }

    /// The main pool is empty at its limit: the reserve takes over.
    var mainAtLimit: Bool { main.circulating == main.circulationLimit }

    mutating func publish() {
        main.publish()
        reserve.publish()
    }

    /// Puts more buffers into circulation: the main pool until its limit, then the reserve.
    /// Returns how many were added.
    mutating func grow() -> Int {
        if main.circulating < main.circulationLimit {
            return main.grow(by: max(BufferPools.initialBuffers, main.circulating))
        }
        return reserve.grow(by: max(16, reserve.circulating))
    }

    /// Bytes of both pools in circulation.
    var circulatingBytes: Int {
        main.circulating * main.bufferSize + reserve.circulating * reserve.bufferSize
    }

    /// Once a second each pool keeps twice its recent peak demand (at least a low-water mark) and
    /// takes the rest out of its ring with reads of /dev/zero: the kernel hands over idle buffers
    /// only, which `drained` then releases with MADV_DONTNEED. A buffer a receive is writing
    /// into is never released. Nothing is trimmed while receives wait for buffers.
    mutating func trim<K: Kernel>(now: UInt64, kernel: K, zeroDevice: Descriptor) {
        mainDemand.endTurn()
        reserveDemand.endTurn()
        guard now >= nextTrim else { return }
        nextTrim = now + BufferPools.trimIntervalMilliseconds
        guard waiters.count == 0, zeroDevice.isValid else { return }
        BufferPools.trim(main.available, &mainDemand, lowWater: mainLowWater, pool: .main, kernel: kernel, zeroDevice: zeroDevice)
        BufferPools.trim(
            reserve.available, &reserveDemand, lowWater: BufferPools.reserveLowWater, pool: .reserve, kernel: kernel,
            zeroDevice: zeroDevice)
    }

    private static func trim<K: Kernel>(
        _ available: Int, _ demand: inout BufferDemand, lowWater: Int, pool: Pool, kernel: K, zeroDevice: Descriptor
    ) {
        let keep = max(lowWater, 2 * demand.peak)
        demand.peak = 0
        let excess = min(available - demand.drainsInFlight - keep, drainBatch)
        guard excess > 0 else { return }
        for _ in 0..<excess {
            kernel.prepareRead(
                descriptor: zeroDevice, bufferGroup: group(pool), length: 1, userData: UserData(.bufferDrain, slot: 0, pool: pool))
        }
        demand.drainsInFlight += excess
    }

    /// A drain read completed: the buffer it took (if the ring had one left) leaves circulation.
    mutating func drained(_ pool: Pool, buffer: UInt16?) {
        if pool == .main {
            mainDemand.drainsInFlight -= 1
            if let buffer {
                main.noteTaken()
                main.release(buffer)
            }
        } else {
            reserveDemand.drainsInFlight -= 1
            if let buffer {
                reserve.noteTaken()
                reserve.release(buffer)
            }
        }
    }
}
