import Glibc
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

/// Receive-buffer memory that follows demand. A buffer that is idle in a ring keeps every page
/// the kernel ever wrote into it, so after a burst (or after slow readers that pinned buffers
/// leave) the rings would hold that memory until restart. Once a second, each pool keeps twice
/// its recent peak demand (at least a low-water mark) and takes the rest out of its ring: a read
/// from /dev/zero with buffer selection hands one idle buffer back to us, which is then released
/// with MADV_DONTNEED. Only the kernel's own hand-over is used, so a buffer a receive is writing
/// into is never released. `grow` puts released buffers back first when demand returns.
extension Worker {
    static let trimIntervalMilliseconds: UInt64 = 1000
    /// Drain reads per pool per trim, so one trim never floods the submission queue.
    static let drainBatch = 256
    static let reserveLowWater = 16

    /// Buffers the main pool keeps however quiet it gets: 8 MiB worth, at least 16.
    var mainLowWater: Int { min(buffers.circulationLimit, max(16, (8 << 20) / buffers.bufferSize)) }

    /// Once per loop turn.
    mutating func manageBufferMemory() {
        mainDemand.endTurn()
        reserveDemand.endTurn()
        publishBufferGauges()
        guard now >= nextBufferTrim else { return }
        nextBufferTrim = now + Worker.trimIntervalMilliseconds
        // Receives waiting for buffers mean demand exceeds supply right now: nothing to spare.
        guard bufferWaiters.count == 0, zeroDevice >= 0 else { return }
        Worker.trim(&buffers, &mainDemand, lowWater: mainLowWater, pool: 0, ring: ring, zeroDevice: zeroDevice)
        Worker.trim(&reserveBuffers, &reserveDemand, lowWater: Worker.reserveLowWater, pool: 1, ring: ring, zeroDevice: zeroDevice)
    }

    func publishBufferGauges() {
        counters.set(.buffersInUse, service: 0, UInt64(buffersHeld))
        counters.set(.buffersProvisioned, service: 0, UInt64(buffers.circulating))
        counters.set(.bufferMemoryBytes, service: 0, UInt64(
            buffers.circulating * buffers.bufferSize + reserveBuffers.circulating * reserveBuffers.bufferSize))
    }

    private static func trim(
        _ pool: inout ProvidedBufferRing, _ demand: inout BufferDemand, lowWater: Int, pool tag: Int32,
        ring: borrowing Ring, zeroDevice: Int32
    ) {
        let keep = max(lowWater, 2 * demand.peak)
        demand.peak = 0
        let excess = min(pool.available - demand.drainsInFlight - keep, drainBatch)
        guard excess > 0 else { return }
        for _ in 0..<excess {
            ring.prepareRead(
                fileDescriptor: zeroDevice, bufferGroup: pool.group, length: 1,
                userData: UserData.pack(.bufferDrain, slot: tag, generation: 0))
        }
        demand.drainsInFlight += excess
    }

    /// A drain read completed: the buffer it took (if the ring had one left) leaves circulation.
    mutating func handleBufferDrain(pool tag: Int32, _ completion: Completion) {
        if tag == 0 {
            mainDemand.drainsInFlight -= 1
            if let id = completion.bufferID {
                buffers.noteTaken()
                buffers.release(id)
            }
        } else {
            reserveDemand.drainsInFlight -= 1
            if let id = completion.bufferID {
                reserveBuffers.noteTaken()
                reserveBuffers.release(id)
            }
        }
    }
}
