import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import Testing
import Uring

/// A worker on a scripted kernel: the test plays the kernel, handing the worker completions for
/// the requests it prepared, and reads the state machine's moves off the requests and counters.
final class Machine {
    let kernel = ScriptedKernel()
    var worker: Worker<ScriptedKernel>
    private let control: WorkerControl
    private let metrics: MetricsSource
    private let logSink: Descriptor
    let listeners: [Descriptor]
    /// Requests prepared and not yet completed by the test, oldest first.
    private(set) var pending: [ScriptedKernel.Request] = []

    /// `health`: target health shared with another machine (as workers share it); empty: its own.
    init(
        _ services: [ServiceConfig], bufferCount: Int = 8, bufferSize: Int = 4096, buffersPerDirection: Int = 2,
        multishotReceive: Bool = true, health: [TargetHealthGroup] = []
    ) throws {
        var options = EngineOptions(
            workers: 1, logLevel: .debug, bufferCount: bufferCount, bufferSize: bufferSize,
            buffersPerDirection: buffersPerDirection)
        options.multishotReceive = multishotReceive
        logSink = Descriptor(rawValue: open("/dev/null", O_WRONLY | O_CLOEXEC))
        options.logDescriptor = logSink.rawValue
        control = try WorkerControl(index: 0, services: services.count + 8, handedOver: HandedOverSockets())
        let shared = SharedServiceState(count: services.count + 8)
        metrics = MetricsSource(serviceNames: services.map(\.name), shared: shared)
        metrics.attach([control])
        let output = LogOutput.open(logSink)
        let kernel = self.kernel
        listeners = services.map { _ in kernel.newDescriptor() }
        let setup = WorkerSetup(
            control: control, shared: shared, metrics: metrics, services: services, listenSockets: listeners,
            serviceCapacity: services.count + 8, scratchChunkSize: Engine.scratchChunkSize(for: services), options: options, processStart: 0x1122_3344_5566_7788, logOutput: output,
            bufferPlan: try BufferPlan(memoryLimit: 64 << 20, workers: 1, bufferCount: bufferCount, bufferSize: bufferSize),
            targetHealth: health)
        worker = try Worker(setup, kernel: kernel)
        for index in listeners.indices { worker.armAccept(index) }
        collect()
    }

    deinit {
        logSink.closeNow()
        control.counters.deallocate()
    }

    /// Moves what the worker prepared into `pending`.
    func collect() {
        pending += kernel.take()
    }

    /// The oldest pending request with `verb` (and `side`, for per-direction verbs); removed.
    func take(_ verb: Verb, _ side: Side? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> ScriptedKernel.Request {
        collect()
        guard let index = pending.firstIndex(where: { $0.userData.verb == verb && (side == nil || $0.userData.side == side) })
        else {
            Issue.record("no pending \(verb) \(side.map { "\($0)" } ?? ""); pending: \(pending)", sourceLocation: sourceLocation)
            throw MachineError.missingRequest
        }
        return pending.remove(at: index)
    }

    /// The oldest pending request with `verb` and `side`, left pending (a multishot one stays armed).
    func armed(_ verb: Verb, _ side: Side, sourceLocation: SourceLocation = #_sourceLocation) throws -> ScriptedKernel.Request {
        collect()
        guard let request = pending.first(where: { $0.userData.verb == verb && $0.userData.side == side }) else {
            Issue.record("no pending \(verb) \(side); pending: \(pending)", sourceLocation: sourceLocation)
            throw MachineError.missingRequest
        }
        return request
    }

    func count(_ verb: Verb, _ side: Side) -> Int {
        collect()
        return pending.filter { $0.userData.verb == verb && $0.userData.side == side }.count
    }

    /// Whether a request with `verb` (and `side`) is pending.
    func has(_ verb: Verb, _ side: Side? = nil) -> Bool {
        collect()
        return pending.contains { $0.userData.verb == verb && (side == nil || $0.userData.side == side) }
    }

    func count(_ verb: Verb) -> Int {
        collect()
        return pending.filter { $0.userData.verb == verb }.count
    }

    /// Hands the worker the completion of `request`. A multishot receive that read bytes stays
    /// armed, as the kernel keeps it: its completion carries F_MORE and it stays pending.
    func complete(_ request: ScriptedKernel.Request, _ result: Result<Int32, Errno>, buffer: UInt16? = nil, more: Bool = false) {
        let staysArmed: Bool
        if request.multishot, case .success(let count) = result, count > 0 { staysArmed = true } else { staysArmed = more }
        if staysArmed && request.userData.verb == .receive && !pending.contains(where: { $0.userData == request.userData }) {
            pending.append(request)
        }
        worker.handle(Completion(userData: request.userData.packed, result: result, buffer: buffer, more: staysArmed))
        collect()
    }

    /// Completes the oldest pending `verb` request.
    func complete(_ verb: Verb, _ side: Side? = nil, _ result: Result<Int32, Errno>, buffer: UInt16? = nil) throws {
        complete(try take(verb, side), result, buffer: buffer)
    }

    /// A client connects from `peer` (nil: its address is already gone); returns its socket.
    @discardableResult
    func accept(from peer: IPEndpoint? = IPEndpoint(address: .v4(.loopback), port: 40000)) throws -> Descriptor {
        let socket = kernel.newDescriptor()
        if let peer { kernel.peers[socket.rawValue] = peer }
        // The worker must have armed an accept for a client to arrive through.
        collect()
        guard let accept = pending.first(where: { $0.userData.verb == .accept }) else {
            Issue.record("no accept armed; pending: \(pending)")
            throw MachineError.missingRequest
        }
        worker.handle(Completion(userData: accept.userData.packed, result: .success(socket.rawValue), more: true))
        collect()
        return socket
    }

    /// A client from `peer` accepted on the first service and its upstream connected: relaying.
    func startRelaying(from peer: IPEndpoint) throws {
        try accept(from: peer)
        try complete(.connect, nil, .success(0))
        try complete(.connectTimeout, nil, .failure(.canceled))
    }

    /// A receive into a provided buffer of the main pool completes with `bytes`, written where
    /// the kernel would have written them.
    func receive(_ side: Side, _ bytes: [UInt8], buffer id: UInt16) throws {
        let request = try take(.receive, side)
        let memory = worker.pools.main.buffer(id)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        complete(request, .success(Int32(bytes.count)), buffer: id)
    }

    /// A peek (receive into the scratch chunk) completes with `bytes`.
    func peek(_ bytes: [UInt8]) throws {
        let request = try take(.peek)
        guard let into = request.into, request.length >= bytes.count else {
            Issue.record("the peek offers \(request.length) bytes, \(bytes.count) arrived")
            return
        }
        bytes.withUnsafeBytes { into.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        complete(request, .success(Int32(bytes.count)))
    }

    /// Completes every pending request whose verb is in `verbs` with -ECANCELED (cancels: their
    /// count), as the kernel does when a connection is torn down.
    func cancelPending(_ verbs: Set<Verb>) {
        collect()
        let cancelled = pending.filter { verbs.contains($0.userData.verb) }
        pending.removeAll { verbs.contains($0.userData.verb) }
        for request in cancelled {
            complete(request, request.userData.verb == .cancel ? .success(1) : .failure(.canceled))
        }
    }

    /// The end of a loop turn at time `now` (ms).
    func endTurn(at now: UInt64? = nil) {
        if let now { worker.now = now }
        worker.endTurn()
        collect()
    }

    /// A counter of service 0.
    func counter(_ counter: Counter, service: Int = 0) -> UInt64 { metrics.total(counter, service: service) }

    func closes(_ reason: CloseReason, service: Int = 0) -> UInt64 {
        metrics.total(slot: CounterBlock.closeReasonBase + Int(reason.rawValue), service: service)
    }

    /// The phase of slot 0 (the first connection), for checks.
    var firstPhase: String { worker.slab[0].connection.pointee.phase.name }
    var active: Int { worker.slab.active }
}

enum MachineError: Error {
    case missingRequest
}

/// A forwarding service for the scripted kernel: by default one target, 10.0.0.2:80.
func scriptedService(
    receive: ProxyReceiveConfig? = nil, send: ProxySendConfig? = nil, splice: Bool = false,
    idleTimeout: Duration = .seconds(60), kind: ServiceConfig.Kind = .forward, targetPorts: [UInt16] = [80]
) -> ServiceConfig {
    let targets = targetPorts.map { port in
        TargetAddress(host: "10.0.0.2", port: port, resolved: [IPEndpoint(address: IPAddress("10.0.0.2")!, port: port)])
    }
    return ServiceConfig(
        name: "service-0", kind: kind, listen: ListenAddress(host: .v4(.loopback), port: 8080),
        targets: kind == .forward ? targets : [], receiveProxy: receive, sendProxy: send, idleTimeout: idleTimeout,
        splice: splice)
}
