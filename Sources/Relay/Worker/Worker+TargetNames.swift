import ProxyProtocol
import Resolver
import RingwayConfig

/// Target names on the worker's resolver (see `TargetNames`).
extension Worker {
    /// Starts the lookups that are due. Called once per loop turn with the resolver's other work.
    mutating func refreshTargetNames() {
        guard let resolver else { return }
        for index in targetNames.entries.indices
        where !targetNames.entries[index].inFlight && now >= targetNames.entries[index].dueAt {
            let entry = targetNames.entries[index]
            switch resolver.resolve(entry.target.host, token: targetNames.token(entry: index)) {
            case .answered(let answer):
                targetNameAnswered(index, .success(answer))
            case .failed(let failure):
                targetNameAnswered(index, .failure(failure))
            case .started:
                targetNames.entries[index].inFlight = true
                resolverWatches.pending = true
            }
        }
    }

    /// An answer for entry `index`: queued for the table, next lookup when its TTL runs out.
    mutating func targetNameAnswered(_ index: Int, _ result: Result<Answer, ResolveFailure>) {
        guard targetNames.entries.indices.contains(index) else { return }
        targetNames.entries[index].inFlight = false
        let entry = targetNames.entries[index]
        switch result {
        case .success(let answer) where !answer.addresses.isEmpty:
            let seconds = min(UInt64(answer.ttlSeconds), 3600)
            targetNames.entries[index].dueAt = now + max(seconds, 1) * 1000
            let endpoints = answer.addresses.prefix(TargetNames.addressesPerName).map {
                IPEndpoint(address: $0, port: entry.target.port)
            }
            targetNames.pending.append((index, Array(endpoints)))
        case .success:
            targetNames.entries[index].dueAt = now + TargetNames.retryMilliseconds
            noteTargetName(entry, .warn, "\(entry.target.host) resolved to no address; keeping the known addresses")
        case .failure(let failure):
            targetNames.entries[index].dueAt = now + TargetNames.retryMilliseconds
            noteTargetName(entry, .warn, "looking up \(entry.target.host) failed (\(failure)); keeping the known addresses")
        }
    }

    /// Copies queued answers into the endpoint table. Only while no prepared connect points into
    /// it (the kernel copies a connect's address when it takes the request).
    mutating func adoptTargetNames() {
        guard !targetNames.pending.isEmpty, kernel.unsubmittedCount == 0 else { return }
        let updates = targetNames.pending
        targetNames.pending.removeAll(keepingCapacity: true)
        for update in updates {
            let entry = targetNames.entries[update.entry]
            let before = (0..<endpoints.addressCount(service: entry.service, target: entry.targetIndex)).map {
                endpoints.endpoint(service: entry.service, target: entry.targetIndex, address: $0)
            }
            guard before != update.endpoints else { continue }
            endpoints.replace(service: entry.service, target: entry.targetIndex, with: update.endpoints)
            // Probes follow what the names resolve to now (one worker says so for all).
            if settings.index == 0, let group = models.healthGroups[entry.service] {
                group.publish(update.endpoints, for: entry.targetIndex)
            }
            let list = update.endpoints.map(\.description).joined(separator: ", ")
            noteTargetName(entry, .info, "\(entry.target) now resolves to \(list)")
        }
    }

    private mutating func noteTargetName(_ entry: TargetNames.Entry, _ level: LogLevel, _ message: String) {
        // Every worker looks names up for itself; one of them says what changed.
        guard settings.index == 0 else { return }
        log.write(level) { line in
            line.field("kind", "service")
            line.field("service", entry.serviceName)
            line.field("msg", message)
        }
    }
}
