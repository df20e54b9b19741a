import ProxyProtocol
import RingwayConfig
import Uring

/// A reload, on the worker: kept services are not touched (their sockets never close), changed
/// ones hand a new model to new connections, added ones start accepting, removed ones stop
/// accepting and give their open connections the drain timeout to finish.
extension Worker {
    /// Applies the reload the engine posted, if any. Called at the start of a loop turn, when no
    /// prepared request points into the tables it replaces.
    mutating func applyPostedReload() {
        guard reloadPosted, kernel.unsubmittedCount == 0 else { return }
        reloadPosted = false
        guard let reload = control.takeReload() else { return }
        apply(reload)
        control.acknowledge(generation: reload.generation)
    }

    mutating func apply(_ reload: WorkerReload) {
        log.level = reload.logLevel
        for slot in reload.removed { retire(slot: slot) }
        var newModels: Set<Int> = []
        for change in reload.changed {
            let model = models.add(change.config, slot: change.slot, health: change.health)
            newModels.insert(Int(model))
            models.retire(listeners[change.slot].model)
            listeners[change.slot].model = model
            listeners[change.slot].limit = change.config.maxConnections
            // The new limit decides afresh; an opening over it pauses again.
            listeners[change.slot].atLimit = false
        }
        for addition in reload.added {
            let model = models.add(addition.config, slot: addition.slot, health: addition.health)
            newModels.insert(Int(model))
            listeners.occupy(addition.slot, socket: addition.socket, model: model, limit: addition.config.maxConnections)
            if draining { listeners.close(addition.slot, kernel) }
        }
        rebuildUpstreamTables(newModels: newModels)
        // A removed service's address is no longer ours, even while its socket waits to close.
        ownEndpoints = listeners.indices.filter { listeners[$0].inUse && !listeners[$0].retired && !listeners[$0].closed }.compactMap {
            (try? kernel.localAddress(of: listeners[$0].socket)).flatMap(IPEndpoint.init)
        }
        let configs = reload.added.map(\.config) + reload.changed.map(\.config)
        if resolver == nil, configs.contains(where: { $0.kind == .proxy }) || !targetNames.isEmpty {
            resolver = Worker.makeResolver(resolverOptions, needed: true)
        }
        for change in reload.changed { armAccept(change.slot) }
        for addition in reload.added { armAccept(addition.slot) }
    }

    /// Stops accepting for `slot`: connections the kernel already queued are served, the socket
    /// closes (once its accept has completed), and open connections run until the drain timeout.
    private mutating func retire(slot: Int) {
        guard listeners[slot].inUse, !listeners[slot].retired else { return }
        listeners[slot].retired = true
        listeners[slot].retireDeadline = now + settings.drainTimeoutMilliseconds
        listeners.retiredCount += 1
        if !listeners[slot].closed { stopListening(slot) }
        // Clients the cancelled accept still hands over start on the service's last settings:
        // its model stays until the socket has closed.
        if listeners[slot].closed { models.retire(listeners[slot].model) }
    }

    /// Endpoint table and target names for the models now in use: kept models keep the addresses
    /// their names last resolved to, new ones start with what the engine resolved.
    private mutating func rebuildUpstreamTables(newModels: Set<Int>) {
        let occupied = models.occupied
        var addresses: [[[IPEndpoint]]] = Array(repeating: [], count: models.capacity)
        var capacities: [[Int]] = Array(repeating: [], count: models.capacity)
        var timeouts: [Duration] = Array(repeating: .seconds(15), count: models.capacity)
        for index in occupied {
            guard let config = models.configs[index] else { continue }
            addresses[index] = newModels.contains(index)
                ? TargetNames.initialEndpoints([config])[0] : endpoints.currentAddresses(service: index)
            capacities[index] = TargetNames.capacities(of: config)
            timeouts[index] = config.connectTimeout
        }
        var table = EndpointTable(services: addresses, capacities: capacities, connectTimeouts: timeouts)
        // The kernel has taken every submitted connect's address by now; the old table stays a
        // moment longer all the same, so no address it might still read is freed under it.
        swap(&endpoints, &table)
        retiredEndpoints = consume table
        retiredEndpointsFreeAt = now + 1000
        let current = models.currentModels.compactMap { index in models.configs[index].map { (index: index, config: $0) } }
        targetNames = TargetNames(models: current, now: now, epoch: targetNames.epoch &+ 1)
    }

    /// Once per turn while a reload left something behind: removed services past their deadline
    /// close what is still open, slots with nothing left go back to the engine, and the previous
    /// endpoint table is freed.
    mutating func serviceRetiredSlots() {
        if retiredEndpoints != nil, now >= retiredEndpointsFreeAt { retiredEndpoints = nil }
        guard listeners.retiredCount > 0 else { return }
        for index in listeners.indices where listeners[index].inUse && listeners[index].retired {
            if listeners[index].connections > 0 && now >= listeners[index].retireDeadline {
                closeConnections(ofService: UInt16(index), reason: .serviceRemoved)
            }
            guard listeners[index].closed, !listeners[index].armed, listeners[index].connections == 0 else { continue }
            listeners[index] = .unused
            listeners.retiredCount -= 1
            shared.release(UInt16(index))
        }
    }

    private mutating func closeConnections(ofService service: UInt16, reason: CloseReason) {
        for index in 0..<Int32(slab.highWater) {
            let slot = slab[index]
            if slot.connection.pointee.phase.isLive && slot.connection.pointee.service == service {
                close(slot, reason: reason)
            }
        }
    }
}
