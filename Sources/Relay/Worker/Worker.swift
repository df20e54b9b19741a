import Glibc
import Resolver
import ProxyProtocol
import RingwayConfig
import Uring

/// Everything a worker thread is started with.
struct WorkerSetup: @unchecked Sendable {
    let control: WorkerControl
    let shared: SharedServiceState
    let metrics: MetricsSource
    let services: [ServiceConfig]
    /// This worker's listening socket for each service, in service order.
    let listenSockets: [Descriptor]
    /// Service slots the engine may ever hand out (start-up services take the first ones).
    let serviceCapacity: Int
    /// Bytes of each scratch chunk: enough for any service a reload may add (the engine refuses
    /// one that would need more).
    let scratchChunkSize: Int
    let options: EngineOptions
    let processStart: UInt64
    let logOutput: LogOutput
    let bufferPlan: BufferPlan
    /// Each service's target health, shared with the other workers; empty: the worker makes its
    /// own (a worker on its own, as the state-machine tests run one).
    var targetHealth: [TargetHealthGroup] = []
}

/// Settings a worker reads and never changes.
struct WorkerSettings {
    let buffersPerDirection: Int
    let multishotReceive: Bool
    /// Also how long connections of a service a reload removed may finish.
    let drainTimeoutMilliseconds: UInt64
    /// Realtime clock at process start (ns): the first half of every UNIQUE_ID.
    let processStart: UInt64
    /// Index of this worker (top bits of connection ids, logs).
    let index: Int
}

/// One thread, one ring: accepts, relays and closes the connections that arrive on its own
/// listening sockets. Nothing here is shared with other workers except counters (read-only to
/// them) and the per-service connection counts.
///
/// Its parts are separate values (pools, slab, scratch, listeners, timers, log), so what a
/// handler touches shows in what it calls. Generic over the kernel: the engine runs it on a ring,
/// the state-machine tests on a scripted kernel.
struct Worker<K: Kernel>: ~Copyable {
    let kernel: K
    let control: WorkerControl
    let shared: SharedServiceState
    let metrics: MetricsSource
    let counters: CounterBlock
    let settings: WorkerSettings
    var pools: BufferPools
    var slab: ConnectionSlab
    var scratch: ScratchPool
    var timers: TimerWheel
    var log: EventLog
    /// Per service slot: the listener, the model new connections start on, and what a removal
    /// left running.
    var listeners: Listeners
    /// Settings per model; connections point at the one they started on.
    var models: ServiceModels
    /// Upstream addresses per model. A reload builds a new table and keeps the old one a moment
    /// (`retiredEndpoints`) in case the kernel has not yet read an address from it.
    var endpoints: EndpointTable
    var retiredEndpoints: EndpointTable?
    var retiredEndpointsFreeAt: UInt64 = 0
    /// Where this worker's listeners are bound: a proxy client may not ask for them (a tunnel
    /// into the proxy itself nests without end).
    var ownEndpoints: [IPEndpoint]
    /// `tcp://` targets written as names, looked up again as their TTLs run out.
    var targetNames: TargetNames
    /// Per service slot with maxConnections: accepted connections waiting for a place.
    let limitQueues: UnsafeMutableBufferPointer<ConnectionQueue>
    let completions: UnsafeMutableBufferPointer<Completion>
    let wakeBuffer: UnsafeMutablePointer<UInt64>
    /// /dev/zero: drain reads take idle buffers out of the rings through it (none: no trimming).
    let zeroDevice: Descriptor
    /// Coarse monotonic clock, milliseconds, read once per loop turn.
    var now: UInt64
    var nextConnectionNumber: UInt64 = 0
    var draining = false
    /// The drain has no relayed connection left: the metrics endpoint, which answered through
    /// it (`/ready` with 503), closes too, and the worker exits.
    var metricsEndpointClosed = false
    /// The engine signalled: a reload may be waiting in the control's mailbox.
    var reloadPosted = false
    var drainDeadline: UInt64 = .max
    /// Names clients ask proxy services for; nil when c-ares could not start (names are then
    /// refused, addresses still served) or no service needs it yet.
    var resolver: AsyncResolver?
    /// The engine options the resolver is made from (a reload may need it first).
    let resolverOptions: EngineOptions
    /// The resolver's sockets and the polls armed on them.
    var resolverWatches = ResolverWatches()

    init(_ setup: WorkerSetup, kernel: K) throws(Errno) {
        let options = setup.options
        // Noncopyable parts are built as locals first: if one throws, the others are torn down
        // normally instead of leaving `self` half-initialized.
        let pools = try BufferPools(plan: setup.bufferPlan, mainCapacity: options.bufferCount)
        try kernel.register(pools.main)
        do {
            try kernel.register(pools.reserve)
        } catch {
            kernel.unregister(pools.main)
            throw error
        }
        // Each connection needs two descriptors (six in splice mode); a worker may end up with
        // all of them, so size the slab by the process's descriptor limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let capacity = max(64, (Int(min(limit.rlim_cur, 1 << 20)) - 32) / 2)
        let slab = try Worker.unregisteringOnFailure(kernel, pools) { () throws(Errno) in try ConnectionSlab(capacity: capacity) }
        let scratch = try Worker.unregisteringOnFailure(kernel, pools) { () throws(Errno) in
            try ScratchPool(chunkSize: setup.scratchChunkSize, capacity: capacity)
        }
        self.kernel = kernel
        self.pools = pools
        self.slab = slab
        self.scratch = scratch
        control = setup.control
        shared = setup.shared
        metrics = setup.metrics
        counters = setup.control.counters
        settings = WorkerSettings(
            buffersPerDirection: min(max(options.buffersPerDirection, 1), Direction.capacity - 2),
            multishotReceive: options.multishotReceive,
            drainTimeoutMilliseconds: options.drainTimeout.milliseconds, processStart: setup.processStart,
            index: setup.control.index)
        models = ServiceModels(
            setup.services,
            health: setup.targetHealth.count == setup.services.count
                ? setup.targetHealth : setup.services.map(TargetHealthGroup.init))
        endpoints = EndpointTable(
            services: TargetNames.initialEndpoints(setup.services), capacities: setup.services.map(TargetNames.capacities(of:)),
            connectTimeouts: setup.services.map(\.connectTimeout))
        limitQueues = .allocate(capacity: max(setup.serviceCapacity, setup.services.count, 1))
        limitQueues.initialize(repeating: ConnectionQueue())
        now = monotonicMilliseconds()
        timers = TimerWheel(nowMilliseconds: now)
        log = EventLog(level: options.logLevel, output: setup.logOutput)
        listeners = Listeners(
            sockets: setup.listenSockets, limits: setup.services.map(\.maxConnections), capacity: setup.serviceCapacity)
        ownEndpoints = setup.listenSockets.compactMap { (try? kernel.localAddress(of: $0)).flatMap(IPEndpoint.init) }
        completions = .allocate(capacity: 512)
        wakeBuffer = .allocate(capacity: 1)
        wakeBuffer.initialize(to: 0)
        zeroDevice = (try? Descriptor.zeroDevice()) ?? .none
        // Built as locals first: reading a stored property while initializing another made the
        // debug build destroy the uninitialized `resolver` as if it were being replaced.
        let names = TargetNames(services: setup.services, now: now)
        let needsResolver = setup.services.contains { $0.kind == .proxy } || !names.isEmpty
        targetNames = names
        resolver = Worker.makeResolver(options, needed: needsResolver)
        resolverOptions = options
        self.pools.nextTrim = now + BufferPools.trimIntervalMilliseconds
        publishGauges()
    }

    deinit {
        for index in listeners.indices { listeners.close(index, kernel) }
        kernel.unregister(pools.main)
        kernel.unregister(pools.reserve)
        limitQueues.deallocate()
        completions.deallocate()
        wakeBuffer.deallocate()
        zeroDevice.closeNow()
    }

    /// `make()`, or, if it throws, the pools unregistered before the error goes on.
    private static func unregisteringOnFailure<T: ~Copyable>(
        _ kernel: K, _ pools: borrowing BufferPools, _ make: () throws(Errno) -> T
    ) throws(Errno) -> T {
        do {
            return try make()
        } catch {
            kernel.unregister(pools.main)
            kernel.unregister(pools.reserve)
            throw error
        }
    }

    /// The settings `slot`'s connection started on.
    @inline(__always)
    func service(_ slot: Slot) -> UnsafeMutablePointer<ServiceModel> {
        models[slot.connection.pointee.model]
    }
}

/// CLOCK_MONOTONIC_COARSE in milliseconds: a vDSO read, precise to a few ms, plenty for timers.
@inline(__always)
func monotonicMilliseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &time)
    return UInt64(time.tv_sec) * 1000 + UInt64(time.tv_nsec / 1_000_000)
}

/// CLOCK_MONOTONIC in nanoseconds, for connection durations.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
