import ProxyProtocol
import RingwayConfig

/// Engine-wide knobs: how many workers and how each sizes its ring and buffers.
public struct EngineOptions: Sendable {
    /// Worker threads, each with its own ring and listening sockets.
    public var workers: Int
    public var logLevel: LogLevel
    /// Provided buffers per worker (power of two) and their size. A receive fills one buffer.
    public var bufferCount: Int
    public var bufferSize: Int
    /// Buffers one direction of one connection may hold before its receives stop (backpressure).
    public var buffersPerDirection: Int
    /// Submission queue entries per ring; the completion queue gets four times as many, because
    /// one multishot accept can post many completions.
    public var ringEntries: Int
    /// How long open connections may keep going after a drain starts.
    public var drainTimeout: Duration
    /// The most memory all workers together may have in receive buffers (`--buffer-memory`).
    public var bufferMemoryLimit: Int = BufferPlan.defaultMemoryLimit
    /// Copy mode arms one multishot receive per direction for as long as bytes flow, instead of
    /// one receive per read; off only to measure the difference (`--single-shot-receive`).
    public var multishotReceive = true
    /// Configuration warnings, logged once at start-up.
    public var startupWarnings: [String] = []
    /// Where JSON log lines go (stderr unless a test or embedder wants them elsewhere).
    public var logDescriptor: Int32 = 2

    /// DNS servers (`HOST:PORT`) for names clients ask proxies for and `tcp://` target names,
    /// instead of resolv.conf's (tests point it at a local server).
    public var resolverServers: [String]? = nil
    /// How long one DNS query may take before it is tried again (c-ares), and how many tries.
    public var resolverTimeoutMilliseconds: Int? = nil
    public var resolverTries: Int? = nil

    public init(
        workers: Int, logLevel: LogLevel = .info, bufferCount: Int = 1024, bufferSize: Int = 512 * 1024,
        buffersPerDirection: Int = 2, ringEntries: Int = 1024, drainTimeout: Duration = .seconds(30)
    ) {
        self.workers = workers
        self.logLevel = logLevel
        self.bufferCount = bufferCount
        self.bufferSize = bufferSize
        self.buffersPerDirection = buffersPerDirection
        self.ringEntries = ringEntries
        self.drainTimeout = drainTimeout
    }
}

extension Duration {
    var milliseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1000 + UInt64(attoseconds / 1_000_000_000_000_000)
    }
}
