import Glibc
import ProxyProtocol
import RingwayConfig
import Synchronization
import Uring

/// Why the engine could not start.
public enum EngineError: Error, CustomStringConvertible {
    case ioUringUnavailable(RingSetupError)
    case listen(ListenError)
    case resources(String)
    case workerFailed(worker: Int, reason: String)

    public var description: String {
        switch self {
        case .ioUringUnavailable(let error): return error.description
        case .listen(let error): return error.description
        case .resources(let reason): return reason
        case .workerFailed(let worker, let reason): return "worker \(worker) could not start: \(reason)"
        }
    }
}

/// The relay: one worker thread per core, each with its own ring and its own SO_REUSEPORT
/// listening socket per service. Create it (binds every listener, so address errors surface
/// before anything runs), `start()` it, and `drain()` or `stop()` it; `wait()` returns once every
/// worker has exited.
public final class Engine: @unchecked Sendable {
    public let options: EngineOptions

    let shared: SharedServiceState
    let metrics: MetricsSource
    /// Each running service's target health (workers share the groups) and the probe thread.
    let targetHealth: TargetHealthRegistry
    let prober: HealthProber
    let controls: [WorkerControl]
    /// Listening sockets a successor confirmed it kept (see `confirmHandedOver`).
    let handedOver: HandedOverSockets
    private let listenSockets: [[Descriptor]]  // [worker][service]
    /// Which service each slot holds, and the reload count; reloads take the lock for their
    /// whole length, so they run one at a time.
    let slots: Mutex<(table: ServiceSlots, generation: Int)>
    /// Slots the engine can ever use: counters and per-slot tables are sized once.
    let serviceCapacity: Int
    /// Each worker's scratch chunk size; a reload may not add a service that needs more.
    let scratchChunkSize: Int
    private let processStart: UInt64
    private let threads = Mutex<[NamedThread]>([])
    let logOutput: LogOutput
    private let bufferPlan: BufferPlan

    /// Of the sockets a predecessor handed over, how many the services took.
    public let inheritedSocketsUsed: Int

    /// `inheriting`: listening sockets a predecessor handed over (`ListenerHandover`); a service
    /// takes those bound to its address before it binds new ones, and the rest are closed.
    public init(
        services: [ServiceConfig], options: EngineOptions, inheriting inherited: InheritedListeners? = nil
    ) throws(EngineError) {
        precondition(options.workers > 0, "at least one worker")
        let bufferPlan: BufferPlan
        do {
            bufferPlan = try BufferPlan(
                memoryLimit: options.bufferMemoryLimit, workers: options.workers, bufferCount: options.bufferCount,
                bufferSize: options.bufferSize)
        } catch {
            throw .resources(error.description)
        }
        // Fail early and clearly when io_uring is off, before binding anything.
        do {
            _ = try Ring(entries: 2, completionEntries: 4)
        } catch {
            throw .ioUringUnavailable(error)
        }
        var perWorker = Array(repeating: [Descriptor](), count: options.workers)
        var resolvedServices = services
        do {
            for (index, service) in services.enumerated() {
                let (sockets, port) = try openListeningSockets(
                    service: service.name, listen: service.listen, count: options.workers, inherited: inherited)
                for worker in 0..<options.workers { perWorker[worker].append(sockets[worker]) }
                resolvedServices[index].listen.port = port
            }
        } catch {
            perWorker.joined().forEach { $0.closeNow() }
            throw .listen(error)
        }
        self.inheritedSocketsUsed = (inherited?.count ?? 0) - (inherited?.closeUnused() ?? 0)
        self.options = options
        self.bufferPlan = bufferPlan
        self.listenSockets = perWorker
        let capacity = Engine.serviceCapacity(forStartingWith: services.count)
        self.serviceCapacity = capacity
        self.scratchChunkSize = Engine.scratchChunkSize(for: resolvedServices)
        let socketsByService = resolvedServices.indices.map { index in perWorker.map { $0[index] } }
        self.slots = Mutex((ServiceSlots(services: resolvedServices, sockets: socketsByService, capacity: capacity), 0))
        self.shared = SharedServiceState(count: capacity)
        self.metrics = MetricsSource(serviceNames: services.map(\.name), capacity: capacity, shared: shared)
        self.targetHealth = TargetHealthRegistry(services: resolvedServices)
        metrics.targetHealth = targetHealth
        var controls: [WorkerControl] = []
        let handedOver = HandedOverSockets()
        do {
            for worker in 0..<options.workers {
                controls.append(try WorkerControl(index: worker, services: capacity, handedOver: handedOver))
            }
        } catch {
            perWorker.joined().forEach { $0.closeNow() }
            throw .resources("cannot create the worker wake-up eventfd: \(error)")
        }
        self.controls = controls
        self.handedOver = handedOver
        let logOutput = LogOutput.open(Descriptor(rawValue: options.logDescriptor))
        self.logOutput = logOutput
        do {
            self.prober = try HealthProber(logOutput: logOutput)
        } catch {
            perWorker.joined().forEach { $0.closeNow() }
            throw .resources("cannot create the probe thread's wake-up eventfd: \(error)")
        }
        metrics.attach(controls)
        var realtime = timespec()
        clock_gettime(CLOCK_REALTIME, &realtime)
        processStart = UInt64(realtime.tv_sec) * 1_000_000_000 + UInt64(realtime.tv_nsec)
    }

    deinit {
        for control in controls { control.counters.deallocate() }
        logOutput.closeIfOwned()
    }

    /// The services running now, in configuration order, their bound ports filled in.
    public var services: [ServiceConfig] { slots.withLock { $0.table.liveServices } }

    /// The port each service listens on (useful when it was configured as 0), in service order.
    public var boundPorts: [UInt16] { services.map(\.listen.port) }

    /// Room for the services at start-up and as many again (at least 256) for reloads to add
    /// while removed ones drain; slots are 16-bit.
    static func serviceCapacity(forStartingWith count: Int) -> Int {
        min(count + max(256, count), Int(UInt16.max))
    }

    /// Scratch chunks fit any service with default limits (proxy handshakes, HTTP answers), so a
    /// reload can add one; only a larger `proxyProtocolMaxHeader` than start-up had needs more.
    static func scratchChunkSize(for services: [ServiceConfig]) -> Int {
        let largest = services.enumerated().map { ServiceModel(slot: $0.offset, config: $0.element).scratchSize }.max() ?? 0
        return (max(largest, standardScratchChunk) + 4095) / 4096 * 4096
    }

    static let standardScratchChunk = 16384

    /// Starts every worker and returns once all are accepting, or throws if one failed (the
    /// others are stopped again).
    public func start() throws(EngineError) {
        var started: [NamedThread] = []
        let services = self.services
        let health = services.indices.map { targetHealth.group(slot: $0) ?? TargetHealthGroup(services[$0]) }
        for (worker, control) in controls.enumerated() {
            let setup = WorkerSetup(
                control: control, shared: shared, metrics: metrics, services: services,
                listenSockets: listenSockets[worker], serviceCapacity: serviceCapacity,
                scratchChunkSize: scratchChunkSize, options: options, processStart: processStart,
                logOutput: logOutput, bufferPlan: bufferPlan, targetHealth: health)
            do {
                started.append(try NamedThread.spawn(name: "ringway-w\(worker)") { runWorker(setup) })
            } catch {
                stop()
                threads.withLock { $0 = started }
                wait()
                throw .resources("cannot start worker thread \(worker): \(error)")
            }
        }
        threads.withLock { $0 = started }
        // Each worker creates its ring on its own thread; wait for all to report.
        while true {
            if let failed = controls.first(where: { $0.phase == .failed }) {
                stop()
                wait()
                throw .workerFailed(worker: failed.index, reason: failed.failure ?? "unknown")
            }
            if controls.allSatisfy({ $0.phase == .running || $0.phase == .finished }) { break }
            usleep(1000)
        }
        logStartup()
        startProbes(logLevel: options.logLevel)
    }

    /// Hands the prober the running services' groups (it starts its thread the first time one
    /// has a probe). A failure to start it is logged: the relay runs on with passive marking only.
    func startProbes(logLevel: LogLevel) {
        do {
            try prober.update(targetHealth.live, logLevel: logLevel)
        } catch {
            var log = EventLog(level: logLevel, output: logOutput)
            log.write(.error) { line in
                line.field("kind", "service")
                line.field("msg", "target probes could not start: \(error); targets are marked by connects only")
            }
            log.flush()
        }
    }

    /// One line per service saying where it listens, and a warning where PROXY headers are
    /// accepted from anyone.
    private func logStartup() {
        var warnings = options.startupWarnings
        // Workers hand idle receive buffers back by reading /dev/zero into them (`BufferPools.trim`).
        do throws(Errno) {
            try Descriptor.zeroDevice().closeNow()
        } catch {
            warnings.append("cannot open /dev/zero (\(error)): receive buffers that fall idle are never returned "
                + "to the system, so buffer memory stays at its peak; give the process /dev/zero (a chroot or "
                + "container without it)")
        }
        logServices(services, warnings: warnings, level: options.logLevel)
    }

    /// The start-up lines for `services` (all of them at start, the added ones after a reload).
    func logServices(_ services: [ServiceConfig], warnings: [String], level: LogLevel) {
        var log = EventLog(level: level, output: logOutput)
        for warning in warnings {
            log.write(.warn) { line in
                line.field("kind", "config")
                line.field("msg", warning)
            }
        }
        for service in services {
            let listen = ListenAddress(host: service.listen.host ?? .v6(.any), port: service.listen.port)
            log.write(.info) { line in
                line.field("kind", "service")
                line.field("service", service.name)
                line.field("handler", service.handler)
                line.field("listener", "tcp")
                line.field("workers", UInt64(options.workers))
                line.field("msg", "listening on \(listen)")
            }
            if let receive = service.receiveProxy, receive.trustedProxies.isEmpty {
                log.write(.warn) { line in
                    line.field("kind", "service")
                    line.field("service", service.name)
                    line.field("msg", "proxyProtocol is on without trustedProxies: any client can claim any "
                        + "source address; set trustedProxies=CIDR,... to the load balancers' addresses")
                }
            }
        }
        log.flush()
    }

    /// The listening sockets of every running service, for a successor to take over
    /// (`ListenerHandover`); nil once a drain or stop has begun, when they may be closing, or
    /// when a worker is not running (its sockets may be closed). They stay this process's own
    /// until the successor confirms which it kept (`confirmHandedOver`).
    public func listeningSocketsForHandover() -> [Descriptor]? {
        slots.withLock { state -> [Descriptor]? in
            guard controls.allSatisfy({ $0.currentCommand == .run && $0.phase == .running }) else { return nil }
            return state.table.liveSockets
        }
    }

    /// A successor runs and keeps `sockets`: from now on a drain leaves their backlog to it and
    /// closes only this process's descriptors, so they go on listening. Sockets closed since
    /// they were handed over (a reload removed their service) are skipped. Returns how many
    /// were marked.
    @discardableResult
    public func confirmHandedOver(_ sockets: [Descriptor]) -> Int {
        slots.withLock { state -> Int in
            let live = Set(state.table.liveSockets)
            var marked = 0
            for socket in sockets where live.contains(socket) {
                handedOver.mark(socket)
                marked += 1
            }
            return marked
        }
    }

    /// How many listening sockets a successor confirmed it kept.
    public var socketsHandedOver: Int { handedOver.count }

    /// One line at `info` (or `warn`) outside any service: handovers and the like.
    public func note(_ message: String, kind: String, level: LogLevel = .info) {
        var log = EventLog(level: options.logLevel, output: logOutput)
        log.write(level) { line in
            line.field("kind", kind)
            line.field("msg", message)
        }
        log.flush()
    }

    /// Whether every worker has exited (after a drain or stop).
    public var isFinished: Bool {
        controls.allSatisfy { $0.phase == .finished || $0.phase == .failed }
    }

    /// Stops accepting; open connections continue until `options.drainTimeout`. Probes stop.
    public func drain() {
        prober.stop()
        for control in controls { control.request(.drain) }
    }

    /// Closes every connection now.
    public func stop() {
        prober.stop()
        for control in controls { control.request(.stop) }
    }

    /// Blocks until every worker thread has exited.
    public func wait() {
        let joining = threads.withLock { current -> [NamedThread] in
            defer { current = [] }
            return current
        }
        for thread in joining { thread.join() }
        prober.join()
    }

    /// Prometheus text of every counter, summed over workers.
    public func metricsText() -> String { metrics.render() }

    /// Open connections of service `index`, all workers together.
    public func activeConnections(service index: Int) -> Int { shared.activeConnections(index) }
}

/// A worker thread's life: its ring (created on the thread that uses it), the worker, the loop.
/// The worker goes before the ring it registered its buffers with.
private func runWorker(_ setup: WorkerSetup) {
    let control = setup.control
    let ring: Ring
    do {
        ring = try Ring(
            entries: UInt32(setup.options.ringEntries), completionEntries: UInt32(setup.options.ringEntries * 4))
    } catch {
        control.fail(error.description)
        return
    }
    do {
        var worker = try Worker(setup, kernel: RingKernel(ring: ring.view))
        do {
            try worker.run()
            control.enter(.finished)
        } catch {
            control.fail("event loop failed: \(error)")
        }
    } catch {
        control.fail("cannot set up its buffers and slots: \(error)")
    }
}
