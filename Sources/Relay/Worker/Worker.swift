import CLiburing
import Glibc
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
    let listenSockets: [Int32]
    let options: EngineOptions
    let processStart: UInt64
    let refresher: TargetRefresher
    let logOutput: LogOutput
    let bufferPlan: BufferPlan
}

/// One thread, one ring: accepts, relays and closes the connections that arrive on its own
/// listening sockets. Nothing here is shared with other workers except counters (read-only to
/// them) and the per-service connection counts.
struct Worker: ~Copyable {
    let control: WorkerControl
    let shared: SharedServiceState
    let metrics: MetricsSource
    let counters: CounterBlock
    let ring: Ring
    var buffers: ProvidedBufferRing
    /// Small buffers receives fall back to when `buffers` is at capacity and empty, so clients
    /// that read slowly (each holding its share of big buffers) cannot stall everyone else.
    var reserveBuffers: ProvidedBufferRing
    /// The main pool was found empty at its capacity; cleared when one of its buffers returns.
    var mainPoolExhausted = false
    var lastPoolExhaustionLog: UInt64 = 0
    var slab: ConnectionSlab
    var scratch: ScratchPool
    var timers: TimerWheel
    var log: EventLog
    var bufferWaiters: BufferWaitQueue
    let services: [ServiceRuntime]
    var endpoints: EndpointTable
    /// Re-resolves target names after failed connects; `endpointVersion` is what `endpoints` holds.
    let refresher: TargetRefresher
    var endpointVersion: UInt32
    /// Per service: the target the next connection starts at.
    let roundRobin: UnsafeMutableBufferPointer<UInt32>
    /// Per service with maxConnections: accepted connections waiting for a place.
    var limitQueues: [ConnectionQueue]
    let listeners: UnsafeMutableBufferPointer<ListenerState>
    let completionSlots: UnsafeMutableBufferPointer<UnsafeMutablePointer<io_uring_cqe>?>
    let wakeBuffer: UnsafeMutablePointer<UInt64>
    let buffersPerDirection: Int
    let drainTimeoutMilliseconds: UInt64
    let processStart: UInt64
    /// Coarse monotonic clock, milliseconds, read once per loop turn.
    var now: UInt64
    var nextConnectionNumber: UInt64 = 0
    /// Accept requests still able to post completions.
    var acceptsInFlight = 0
    /// Completions dropped because their slot had moved on (expected to stay 0).
    var staleCompletions = 0
    var draining = false
    /// An EMFILE/ENFILE pause was logged and no accept has succeeded since.
    var acceptPauseLogged = false
    var drainDeadline: UInt64 = .max
    /// Buffers handed back since the last time waiters were served.
    var buffersRecycled = 0
    /// Provided buffers the kernel handed us and we have not given back.
    var buffersHeld = 0
    /// Recent demand per pool, and when idle buffers are next taken out of the rings.
    var mainDemand = BufferDemand()
    var reserveDemand = BufferDemand()
    var nextBufferTrim: UInt64 = 0
    /// /dev/zero: drain reads take idle buffers out of the rings through it (-1: trimming off).
    let zeroDevice: Int32

    static let bufferGroup: UInt16 = 0
    static let reserveBufferGroup: UInt16 = 1
    /// Buffers in circulation at start. The pool doubles at the end of a loop turn in which
    /// receives found it empty and no buffer came back (they are held, not passing through).
    static let initialBuffers = 64

    init(_ setup: WorkerSetup) throws(RingSetupError) {
        let options = setup.options
        // Noncopyable parts are built as locals first: if one throws, the others are torn down
        // normally instead of leaving `self` half-initialized.
        let ring = try Ring(entries: UInt32(options.ringEntries), completionEntries: UInt32(options.ringEntries * 4))
        let buffers: ProvidedBufferRing
        do {
            buffers = try ProvidedBufferRing(
                registeringWith: ring, group: Worker.bufferGroup, count: options.bufferCount, size: options.bufferSize,
                initialCount: min(Worker.initialBuffers, setup.bufferPlan.mainLimit),
                circulationLimit: setup.bufferPlan.mainLimit)
        } catch {
            throw RingSetupError(errno: error)
        }
        let reserveBuffers: ProvidedBufferRing
        do {
            // Reserve ids stay below PendingSend.reserveFlag and the scratch marker.
            reserveBuffers = try ProvidedBufferRing(
                registeringWith: ring, group: Worker.reserveBufferGroup, count: BufferPlan.reserveBufferCount,
                size: setup.bufferPlan.reserveBufferSize, initialCount: 16,
                circulationLimit: setup.bufferPlan.reserveLimit)
        } catch {
            buffers.unregister(from: ring)
            throw RingSetupError(errno: error)
        }
        self.ring = ring
        self.buffers = buffers
        self.reserveBuffers = reserveBuffers
        control = setup.control
        shared = setup.shared
        metrics = setup.metrics
        counters = setup.control.counters
        processStart = setup.processStart

        services = setup.services.enumerated().map { ServiceRuntime(index: $0.offset, config: $0.element) }
        refresher = setup.refresher
        let (version, current) = setup.refresher.snapshot()
        endpointVersion = version
        endpoints = EndpointTable(
            services: current, capacities: setup.services.map(TargetRefresher.capacities(of:)),
            connectTimeouts: setup.services.map(\.connectTimeout))
        roundRobin = .allocate(capacity: max(setup.services.count, 1))
        roundRobin.initialize(repeating: 0)
        limitQueues = Array(repeating: ConnectionQueue(), count: setup.services.count)

        // Each connection needs two descriptors (six in splice mode); a worker may end up with
        // all of them, so size the slab by the process's descriptor limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let descriptors = Int(min(limit.rlim_cur, 1 << 20))
        let capacity = max(64, (descriptors - 32) / 2)
        slab = ConnectionSlab(capacity: capacity)
        let largestChunk = services.map(\.scratchSize).max() ?? 4096
        scratch = ScratchPool(chunkSize: (largestChunk + 4095) / 4096 * 4096, capacity: capacity)
        bufferWaiters = BufferWaitQueue()
        now = monotonicMilliseconds()
        timers = TimerWheel(nowMilliseconds: now)
        log = EventLog(level: options.logLevel, output: setup.logOutput)
        buffersPerDirection = min(max(options.buffersPerDirection, 1), Direction.capacity - 2)
        drainTimeoutMilliseconds = options.drainTimeout.milliseconds

        listeners = .allocate(capacity: setup.listenSockets.count)
        for (index, socket) in setup.listenSockets.enumerated() {
            (listeners.baseAddress! + index).initialize(to: ListenerState(socket: socket, service: UInt16(index)))
        }
        completionSlots = .allocate(capacity: 512)
        completionSlots.initialize(repeating: nil)
        wakeBuffer = .allocate(capacity: 1)
        wakeBuffer.initialize(to: 0)
        zeroDevice = Glibc.open("/dev/zero", O_RDONLY | O_CLOEXEC)
        nextBufferTrim = now + Worker.trimIntervalMilliseconds
        publishBufferGauges()
    }

    deinit {
        buffers.unregister(from: ring)
        reserveBuffers.unregister(from: ring)
        for listener in listeners where !listener.closed { Glibc.close(listener.socket) }
        listeners.deallocate()
        completionSlots.deallocate()
        wakeBuffer.deallocate()
        roundRobin.deallocate()
        if zeroDevice >= 0 { Glibc.close(zeroDevice) }
    }

    /// The event loop: submit, wait, handle a batch of completions, run timers; until a drain
    /// has finished or a stop was requested and every request has completed.
    mutating func run() throws(Errno) {
        armWake()
        for index in listeners.indices { armAccept(index) }
        control.enter(.running)
        while true {
            buffers.publish()
            reserveBuffers.publish()
            // Timers tick every 10 ms while any are pending; otherwise only completions (or the
            // wake eventfd) end the wait, with a slow heartbeat as a safety net.
            // Log lines the output could not take yet are retried on the same short beat.
            let waitNanoseconds: Int64 = timers.count > 0 || hasPausedListener || log.hasPending ? 10_000_000 : 500_000_000
            try ring.submitAndWait(timeoutNanoseconds: waitNanoseconds)
            now = monotonicMilliseconds()
            if refresher.hasNames { adoptRefreshedEndpoints() }
            while true {
                let count = ring.peekCompletions(into: completionSlots)
                if count == 0 { break }
                for index in 0..<count {
                    guard let entry = completionSlots[index] else { continue }
                    handle(Completion(entry))
                }
                ring.advanceCompletions(by: count)
            }
            expireTimers()
            serveBufferWaiters()
            resumePausedListeners()
            manageBufferMemory()
            counters.set(.logLinesDropped, service: 0, log.droppedLines)
            if draining {
                if now >= drainDeadline { closeAll(reason: .draining) }
                // The wake read may still be armed; tearing the ring down cancels it.
                if slab.active == 0 && acceptsInFlight == 0 { break }
            }
            log.flush()
        }
        // Closes of the last connections are prepared but not yet submitted.
        _ = try? ring.submit()
        log.flushBeforeExit()
    }

    /// Copies in the addresses the refresher found, at a moment when no prepared connect still
    /// points into the table.
    mutating func adoptRefreshedEndpoints() {
        guard refresher.version != endpointVersion, ring.unsubmittedCount == 0 else { return }
        let (version, current) = refresher.snapshot()
        for (service, list) in current.enumerated() { endpoints.replace(service: service, with: list) }
        endpointVersion = version
    }

    /// Routes one completion by the operation packed in its user_data.
    @inline(__always)
    mutating func handle(_ completion: Completion) {
        guard let operation = UserData.operation(completion.userData) else {
            // Not a request of ours: no slot can be trusted to own it, nor a pool any buffer it
            // carries. Keep the process up and say so.
            staleCompletions += 1
            log.write(.error) { line in
                line.field("kind", "worker")
                line.field("msg", "internal error: completion with unknown user_data \(completion.userData) ignored")
            }
            return
        }
        let index = UserData.slot(completion.userData)
        if operation == .bufferDrain {
            handleBufferDrain(pool: index, completion)
            return
        }
        // The kernel names the buffer by id only; which pool it came from is in the operation.
        var buffer = completion.bufferID
        if let id = buffer {
            buffersHeld += 1
            if operation == .receiveClientFromReserve || operation == .receiveUpstreamFromReserve {
                buffer = id | PendingSend.reserveFlag
                reserveBuffers.noteTaken()
                reserveDemand.thisTurn += 1
            } else {
                buffers.noteTaken()
                mainDemand.thisTurn += 1
            }
        }
        switch operation {
        case .accept:
            handleAccept(listener: Int(index), completion)
            return
        case .wake:
            handleWake(completion)
            return
        case .closeDescriptor:
            return
        case .cancel where index < 0:
            return
        default:
            break
        }
        let connection = slab[index]
        guard connection.pointee.state != .free,
              connection.pointee.generation == UserData.generation(completion.userData)
        else {
            // A slot is freed only after its last completion, so this should not happen; if it
            // does, the completion belongs to an earlier occupant and must not touch this one.
            if let buffer { recycle(buffer) }
            staleCompletions += 1
            return
        }
        connection.pointee.inflight -= 1
        if connection.pointee.state == .closing {
            if let buffer { recycle(buffer) }
            if connection.pointee.inflight == 0 { finishClosing(index) }
            return
        }
        switch operation {
        case .scratchReceive: handleScratchReceive(index, completion)
        case .connect: handleConnect(index, completion)
        case .connectTimeout: handleConnectTimeout(index, completion)
        case .receiveClient: handleReceive(index, .inbound, completion, buffer: buffer, fromReserve: false)
        case .receiveUpstream: handleReceive(index, .outbound, completion, buffer: buffer, fromReserve: false)
        case .receiveClientFromReserve: handleReceive(index, .inbound, completion, buffer: buffer, fromReserve: true)
        case .receiveUpstreamFromReserve: handleReceive(index, .outbound, completion, buffer: buffer, fromReserve: true)
        case .sendUpstream: handleSend(index, .inbound, completion)
        case .sendClient:
            if connection.pointee.state == .serving {
                handleResponseSent(index, completion)
            } else {
                handleSend(index, .outbound, completion)
            }
        case .watchClient: handleWatch(index, .inbound, completion)
        case .watchUpstream: handleWatch(index, .outbound, completion)
        case .spliceFillInbound: handleSpliceFill(index, .inbound, completion)
        case .spliceFillOutbound: handleSpliceFill(index, .outbound, completion)
        case .spliceDrainInbound: handleSpliceDrain(index, .inbound, completion)
        case .spliceDrainOutbound: handleSpliceDrain(index, .outbound, completion)
        case .pollFillInbound: handleSplicePoll(index, .inbound, fill: true, completion)
        case .pollFillOutbound: handleSplicePoll(index, .outbound, fill: true, completion)
        case .pollDrainInbound: handleSplicePoll(index, .inbound, fill: false, completion)
        case .pollDrainOutbound: handleSplicePoll(index, .outbound, fill: false, completion)
        case .shutdown, .cancel, .accept, .wake, .closeDescriptor, .bufferDrain: break
        }
    }

    // MARK: - Small shared helpers

    @inline(__always)
    func userData(_ operation: Operation, _ index: Int32) -> UInt64 {
        UserData.pack(operation, slot: index, generation: slab[index].pointee.generation)
    }

    /// Gives a buffer back to the pool its tag names.
    @inline(__always)
    mutating func recycle(_ buffer: UInt16) {
        if buffer & PendingSend.reserveFlag != 0 {
            reserveBuffers.recycle(buffer & ~PendingSend.reserveFlag)
        } else {
            buffers.recycle(buffer)
            mainPoolExhausted = false
        }
        buffersRecycled += 1
        buffersHeld -= 1
    }

    func service(of index: Int32) -> ServiceRuntime {
        services[Int(slab[index].pointee.service)]
    }

    mutating func armWake() {
        ring.prepareRead(
            fileDescriptor: control.wakeDescriptor, into: wakeBuffer, length: 8,
            userData: UserData.pack(.wake, slot: 0, generation: 0))
    }

    /// The engine wrote to the eventfd: a drain or stop was requested.
    mutating func handleWake(_ completion: Completion) {
        switch control.currentCommand {
        case .run: break
        case .drain: beginDrain(deadline: now + drainTimeoutMilliseconds)
        case .stop: beginDrain(deadline: now)
        }
        armWake()
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
