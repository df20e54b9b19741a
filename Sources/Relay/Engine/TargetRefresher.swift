import Glibc
import ProxyProtocol
import RingwayConfig
import Synchronization
import Uring

/// Looks upstream host names up again after connects to them fail, on its own thread so a slow
/// resolver never stalls a worker. Workers notice new addresses through `version` (one relaxed
/// load per loop turn) and copy them in with `snapshot()`.
///
/// IP literals and the empty host are never looked up again. A name is looked up at most once
/// per `minimumInterval`, so an outage does not turn into a flood of DNS queries; a failed or
/// empty answer keeps the addresses already known.
final class TargetRefresher: @unchecked Sendable {
    /// Addresses kept per name; workers reserve this many endpoint slots for each one.
    static let addressesPerName = 16
    static let minimumIntervalMilliseconds: UInt64 = 1000

    struct Name {
        let service: Int
        let targetIndex: Int
        let serviceName: String
        /// As configured: host name and port.
        let target: TargetAddress
    }

    let names: [Name]
    /// Indices into `names`, per service.
    private let namesByService: [[Int]]
    /// Per service, per target: the endpoints in use.
    private let current: Mutex<[[[IPEndpoint]]]>
    private let changes = Atomic<UInt32>(0)
    private let requested: UnsafeMutablePointer<Atomic<Bool>>
    private let stopping = Atomic<Bool>(false)
    /// Wakes the refresher thread (a request, or stop).
    private let wake: EventCounter
    private let resolve: @Sendable (String) throws(HostLookupError) -> [IPAddress]
    private let logLevel: LogLevel
    private let logOutput: LogOutput
    private let thread = Mutex<NamedThread?>(nil)

    init(services: [ServiceConfig], options: EngineOptions, logOutput: LogOutput) throws(Errno) {
        var names: [Name] = []
        var byService: [[Int]] = []
        for (serviceIndex, service) in services.enumerated() {
            var indices: [Int] = []
            for (targetIndex, target) in service.targets.enumerated() where TargetRefresher.isName(target.host) {
                indices.append(names.count)
                names.append(Name(service: serviceIndex, targetIndex: targetIndex, serviceName: service.name, target: target))
            }
            byService.append(indices)
        }
        self.names = names
        namesByService = byService
        current = Mutex(services.map { service in
            service.targets.map { target in
                TargetRefresher.isName(target.host)
                    ? Array(target.resolved.prefix(TargetRefresher.addressesPerName)) : target.resolved
            }
        })
        requested = .allocate(capacity: max(names.count, 1))
        for index in 0..<max(names.count, 1) { (requested + index).initialize(to: Atomic(false)) }
        do {
            wake = try EventCounter()
        } catch {
            requested.deallocate()
            throw error
        }
        resolve = options.resolveHost
        logLevel = options.logLevel
        self.logOutput = logOutput
    }

    deinit {
        requested.deallocate()
    }

    static func isName(_ host: String) -> Bool { !host.isEmpty && IPAddress(host) == nil }

    var hasNames: Bool { !names.isEmpty }

    /// Changes whenever any name's addresses changed.
    var version: UInt32 { changes.load(ordering: .acquiring) }

    /// Endpoint slots a worker reserves for each of `service`'s targets: room for a name's
    /// largest answer.
    static func capacities(of config: ServiceConfig) -> [Int] {
        config.targets.map { TargetRefresher.isName($0.host) ? TargetRefresher.addressesPerName : $0.resolved.count }
    }

    /// The version and every service's addresses per target, read together.
    func snapshot() -> (version: UInt32, endpoints: [[[IPEndpoint]]]) {
        current.withLock { targets in (changes.load(ordering: .relaxed), targets) }
    }

    /// A connect to one of `service`'s upstreams failed: look its names up again soon.
    func requestRefresh(service: Int) {
        var wake = false
        for name in namesByService[service] where !requested[name].exchange(true, ordering: .acquiringAndReleasing) {
            wake = true
        }
        if wake { self.wake.signal() }
    }

    func start() throws(Errno) {
        guard hasNames else { return }
        let handle = try NamedThread.spawn(name: "ringway-dns") { [self] in run() }
        thread.withLock { $0 = handle }
    }

    /// Ends the thread and waits for it (a lookup in progress finishes first).
    func stop() {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        if let handle = thread.withLock({ current -> NamedThread? in
            defer { current = nil }
            return current
        }) {
            handle.join()
        }
    }

    private func run() {
        var lastLookup = [UInt64](repeating: 0, count: names.count)
        var due = Set<Int>()
        var log = EventLog(level: logLevel, output: logOutput)
        while !stopping.load(ordering: .acquiring) {
            let now = monotonicMilliseconds()
            let nextDue = due.map { lastLookup[$0] + TargetRefresher.minimumIntervalMilliseconds }.min()
            let timeout = nextDue.map { Int32(clamping: $0 > now ? $0 - now : 0) } ?? -1
            _ = wake.wait(milliseconds: timeout)
            if stopping.load(ordering: .acquiring) { break }
            for index in names.indices where requested[index].exchange(false, ordering: .acquiringAndReleasing) {
                due.insert(index)
            }
            let moment = monotonicMilliseconds()
            for index in due where lastLookup[index] == 0
                || moment >= lastLookup[index] + TargetRefresher.minimumIntervalMilliseconds
            {
                due.remove(index)
                lastLookup[index] = moment
                lookUp(names[index], log: &log)
            }
            log.flush()
        }
    }

    private func lookUp(_ name: Name, log: inout EventLog) {
        let host = name.target.host
        let addresses: [IPAddress]
        do throws(HostLookupError) {
            addresses = try resolve(host)
        } catch {
            note(name, .warn, "re-resolving \(host) failed (\(error.reason)); keeping the known addresses", &log)
            return
        }
        guard !addresses.isEmpty else {
            note(name, .warn, "\(host) resolved to no address; keeping the known addresses", &log)
            return
        }
        let fresh = addresses.prefix(TargetRefresher.addressesPerName).map {
            IPEndpoint(address: $0, port: name.target.port)
        }
        let changed = current.withLock { targets -> Bool in
            guard targets[name.service][name.targetIndex] != fresh else { return false }
            targets[name.service][name.targetIndex] = fresh
            return true
        }
        if changed {
            changes.add(1, ordering: .releasing)
            let list = fresh.map(\.description).joined(separator: ", ")
            note(name, .info, "\(name.target) re-resolved after a failed connect: now \(list)", &log)
        } else {
            note(name, .debug, "\(name.target) re-resolved after a failed connect: unchanged", &log)
        }
    }

    private func note(_ name: Name, _ level: LogLevel, _ message: String, _ log: inout EventLog) {
        log.write(level) { line in
            line.field("kind", "service")
            line.field("service", name.serviceName)
            line.field("msg", message)
        }
    }
}
