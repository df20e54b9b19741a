import Glibc

/// How one worker's share of the receive-buffer memory ceiling splits between its two pools:
/// the main pool (`--buffers` × `--buffer-size`) and the reserve of small buffers that keeps
/// connections moving while slow readers hold the main pool. Each pool may circulate only as
/// many buffers as its share pays for.
public struct BufferPlan: Sendable, Equatable {
    public static let reserveBufferSize = 16 * 1024
    /// Reserve capacity in buffers (16-bit ids, below the reserve tag bit).
    public static let reserveBufferCount = 16384
    /// The reserve's share of a worker's budget.
    static let reserveFraction = 4
    /// Below this many buffers per pool a worker cannot keep even a few connections moving.
    public static let minimumMainBuffers = 4
    public static let minimumReserveBuffers = 16

    public let mainBufferSize: Int
    public let reserveBufferSize: Int
    /// Buffers each pool may have in circulation at once.
    public let mainLimit: Int
    public let reserveLimit: Int

    /// The default ceiling: a quarter of physical memory, at most 1 GiB, for all workers.
    public static var defaultMemoryLimit: Int {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, pageSize > 0 else { return 1 << 30 }
        return min(1 << 30, pages * pageSize / 4)
    }

    /// `memoryLimit` is for the whole process, split evenly over `workers`. Throws a message
    /// naming the smallest limit that works when it is too small to be useful.
    public init(memoryLimit: Int, workers: Int, bufferCount: Int, bufferSize: Int) throws(BufferPlanError) {
        let budget = memoryLimit / max(workers, 1)
        let reserveSize = min(Self.reserveBufferSize, bufferSize)
        let reserveShare = min(Self.reserveBufferCount * reserveSize, budget / Self.reserveFraction)
        let mainLimit = min(bufferCount, (budget - reserveShare) / bufferSize)
        let reserveLimit = reserveShare / reserveSize
        guard mainLimit >= min(Self.minimumMainBuffers, bufferCount), reserveLimit >= Self.minimumReserveBuffers else {
            // The reserve gets a quarter: both shares must reach their minimum.
            let fraction = Self.reserveFraction
            let forReserve = Self.minimumReserveBuffers * reserveSize * fraction
            let mainBuffers = min(Self.minimumMainBuffers, bufferCount)
            let forMain = (mainBuffers * bufferSize * fraction + fraction - 2) / (fraction - 1)
            throw BufferPlanError(limit: memoryLimit, minimum: max(forReserve, forMain) * max(workers, 1), workers: workers)
        }
        self.mainBufferSize = bufferSize
        self.reserveBufferSize = reserveSize
        self.mainLimit = mainLimit
        self.reserveLimit = reserveLimit
    }
}

public struct BufferPlanError: Error, CustomStringConvertible {
    public let limit: Int
    public let minimum: Int
    public let workers: Int

    public var description: String {
        "--buffer-memory \(limit) bytes leaves too little per worker for \(workers) worker(s): "
            + "at least \(minimum) bytes are needed with this --buffer-size (or fewer workers)"
    }
}
