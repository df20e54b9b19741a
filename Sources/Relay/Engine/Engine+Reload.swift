import Glibc
import ProxyProtocol
import RingwayConfig
import Synchronization
import Uring

/// Why a reload changed nothing.
public enum ReloadError: Error, CustomStringConvertible {
    case draining
    case noFreeSlots(needed: Int, free: Int)
    case scratchTooSmall(service: String, needed: Int, available: Int)
    case listen(ListenError)

    public var description: String {
        switch self {
        case .draining:
            return "the relay is draining; nothing to reload"
        case .noFreeSlots(let needed, let free):
            return "the new configuration adds \(needed) services but only \(free) more fit beside the running and "
                + "draining ones; wait for removed services to drain, or restart"
        case .scratchTooSmall(let service, let needed, let available):
            return "\(service) needs \(needed) bytes of per-connection memory (proxyProtocolMaxHeader) but this process "
                + "was started with \(available); restart to apply it"
        case .listen(let error):
            return error.description
        }
    }
}

/// What a reload did, by service name.
public struct ReloadSummary: Sendable, CustomStringConvertible {
    public let generation: Int
    public var added: [String] = []
    public var changed: [String] = []
    public var removed: [String] = []
    public var kept: [String] = []

    public var description: String {
        // At most a few names each, so the line stays within a log line's bounds.
        func part(_ names: [String], _ word: String) -> String? {
            guard !names.isEmpty else { return nil }
            let shown = names.prefix(5).joined(separator: ", ")
            return "\(names.count) \(word) (\(shown)\(names.count > 5 ? ", and \(names.count - 5) more" : ""))"
        }
        let parts = [part(added, "added"), part(changed, "changed"), part(removed, "removed")].compactMap { $0 }
        let kept = "\(self.kept.count) unchanged"
        return parts.isEmpty ? "nothing changed, \(kept)" : (parts + [kept]).joined(separator: ", ")
    }
}

extension Engine {
    /// Replaces the running services with `services` (already validated, targets resolved),
    /// without closing a socket whose listen address stays: services at an unchanged address
    /// keep their socket (new connections get the new settings, open ones finish on theirs),
    /// new addresses are bound first (a failure changes nothing), and removed services stop
    /// accepting and drain for the drain timeout. Returns once every worker has switched.
    public func reload(
        services: [ServiceConfig], logLevel: LogLevel, warnings: [String] = []
    ) throws(ReloadError) -> ReloadSummary {
        do {
            let summary = try slots.withLock { state throws(ReloadError) -> ReloadSummary in
                try reload(services, logLevel: logLevel, state: &state)
            }
            metrics.countReload(applied: true)
            logReload(summary, services: services, warnings: warnings, level: logLevel)
            return summary
        } catch {
            metrics.countReload(applied: false)
            logRefusal("\(error); the running configuration is kept")
            throw error
        }
    }

    /// A reload refused before it reached the engine (a file that did not validate, a name that
    /// did not resolve): an error line and the refused count.
    public func refuseReload(_ reason: String) {
        metrics.countReload(applied: false)
        logRefusal(reason)
    }

    private func logRefusal(_ reason: String) {
        var log = EventLog(level: options.logLevel, output: logOutput)
        log.write(.error) { line in
            line.field("kind", "config")
            line.field("msg", "reload refused: \(reason)")
        }
        log.flush()
    }

    private func reload(
        _ services: [ServiceConfig], logLevel: LogLevel, state: inout (table: ServiceSlots, generation: Int)
    ) throws(ReloadError) -> ReloadSummary {
        guard controls.allSatisfy({ $0.currentCommand == .run }) else { throw .draining }
        let liveNames = Set(services.map(\.name))
        for slot in state.table.reclaim(isReleased: shared.isReleased) {
            metrics.reclaim(slot: slot, liveNames: liveNames)
            for control in controls { control.counters.reset(service: slot) }
        }
        metrics.keepCarried(only: liveNames)
        let match = state.table.match(services)
        for position in match.added + match.changed.map(\.position) {
            let needed = ServiceModel(slot: 0, config: services[position]).scratchSize
            if needed > scratchChunkSize {
                throw .scratchTooSmall(service: services[position].name, needed: needed, available: scratchChunkSize)
            }
        }
        let free = state.table.freeSlots
        guard free.count >= match.added.count else { throw .noFreeSlots(needed: match.added.count, free: free.count) }

        // Bind every new address before anything changes.
        var running = services
        var opened: [(position: Int, slot: Int, sockets: [Descriptor])] = []
        do {
            for (offset, position) in match.added.enumerated() {
                let service = services[position]
                let (sockets, port) = try openListeningSockets(service: service.name, listen: service.listen, count: options.workers)
                running[position].listen.port = port
                opened.append((position, free[offset], sockets))
            }
        } catch {
            for socket in opened.flatMap(\.sockets) { socket.closeNow() }
            throw .listen(error)
        }

        var layout = Array(repeating: 0, count: services.count)
        for (position, slot) in match.kept + match.changed { layout[position] = slot }
        for entry in opened { layout[entry.position] = entry.slot }
        for slot in match.removed { shared.retire(slot, workers: controls.count) }
        // New health groups, one per new or changed configuration, shared by every worker; kept
        // targets keep their state (see `TargetHealthRegistry.makeGroup`).
        let addedHealth = opened.map { targetHealth.makeGroup(for: running[$0.position]) }
        let changedHealth = match.changed.map { targetHealth.makeGroup(for: running[$0.position]) }
        state.generation += 1
        let generation = state.generation
        for (worker, control) in controls.enumerated() {
            control.post(WorkerReload(
                generation: generation,
                added: zip(opened, addedHealth).map {
                    .init(slot: $0.slot, config: running[$0.position], socket: $0.sockets[worker], health: $1)
                },
                changed: zip(match.changed, changedHealth).map {
                    .init(slot: $0.slot, config: running[$0.position], health: $1)
                },
                removed: match.removed, logLevel: logLevel))
        }
        waitForWorkers(generation: generation)
        targetHealth.commit(
            placed: zip(opened.map(\.slot), addedHealth).map { ($0, $1) }
                + zip(match.changed.map(\.slot), changedHealth).map { ($0, $1) },
            removed: match.removed)
        // Under the reload lock, so plans reach the prober in order.
        startProbes(logLevel: logLevel)

        var summary = ReloadSummary(generation: generation)
        summary.added = opened.map { running[$0.position].name }
        summary.changed = match.changed.map { running[$0.position].name }
        summary.kept = match.kept.map { running[$0.position].name }
        summary.removed = match.removed.compactMap { state.table.entries[$0].config?.name }
        state.table.commit(
            running, layout: layout, removed: match.removed,
            opened: Dictionary(uniqueKeysWithValues: opened.map { ($0.slot, $0.sockets) }), generation: generation)
        for (position, slot) in layout.enumerated() { metrics.name(slot: slot, running[position].name) }
        return summary
    }

    /// Until every running worker has applied `generation` (each does at its next loop turn).
    private func waitForWorkers(generation: Int) {
        while controls.contains(where: { $0.phase == .running && $0.appliedGeneration < generation }) {
            usleep(1000)
        }
    }

    private func logReload(_ summary: ReloadSummary, services: [ServiceConfig], warnings: [String], level: LogLevel) {
        let added = self.services.filter { summary.added.contains($0.name) }
        var log = EventLog(level: level, output: logOutput)
        log.write(.info) { line in
            line.field("kind", "config")
            line.field("generation", UInt64(summary.generation))
            line.field("added", UInt64(summary.added.count))
            line.field("changed", UInt64(summary.changed.count))
            line.field("removed", UInt64(summary.removed.count))
            line.field("msg", "reloaded: \(summary)")
        }
        log.flush()
        logServices(added, warnings: warnings, level: level)
    }
}
