import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// Listeners and new connections: multishot accepts, pauses (out of descriptors, at
/// maxConnections), the places of limited services, and the drain.
extension Worker {
    /// Pause after EMFILE/ENFILE/ENOMEM before trying again: long enough not to spin, short
    /// enough that a freed descriptor is used promptly.
    static var acceptRetryMilliseconds: UInt64 { 100 }

    mutating func armAccept(_ listener: Int) {
        guard listeners[listener].mayAccept, !draining || servesDuringDrain(listener) else { return }
        kernel.prepareMultishotAccept(listener: listeners[listener].socket, userData: UserData(.accept, slot: Int32(listener)))
        listeners[listener].armed = true
        listeners.acceptsInFlight += 1
    }

    func cancelAccept(_ listener: Int) {
        kernel.prepareCancel(target: UserData(.accept, slot: Int32(listener)), userData: UserData(.cancel, slot: -1))
    }

    mutating func handleAccept(listener: Int, _ completion: Completion) {
        // The last completion of an accept a removal cancelled: the socket closes, and the
        // service's last model goes once the client this completion may carry has started on it.
        let removalEnds = !completion.hasMore && listeners[listener].retired
        if !completion.hasMore {
            listeners[listener].armed = false
            listeners.acceptsInFlight -= 1
            if (draining && !servesDuringDrain(listener)) || listeners[listener].retired { closeServingBacklog(listener) }
        }
        let service = UInt16(listener)
        switch completion.result {
        case .success(let socket):
            // Also after a removal, until the cancel lands: served like the backlog was.
            listeners.pauseLogged = false
            openConnection(socket: Descriptor(rawValue: socket), listener: listener)
        case .failure(let error) where error != .canceled:
            counters.add(.acceptErrors, service: service)
            switch error.rawValue {
            case EMFILE, ENFILE, ENOMEM, ENOBUFS:
                // The connection stays in the kernel's backlog; try again shortly.
                pauseAccepting(because: error)
            default:
                // ECONNABORTED and friends concern one half-open connection only.
                guard !listeners[listener].retired else { break }
                let name = models[listeners[listener].model].pointee.name
                log.write(.debug) { line in
                    line.field("kind", "service")
                    line.field("service", name)
                    line.field("msg", "accept: \(error)")
                }
            }
        case .failure:
            break
        }
        armAccept(listener)
        if removalEnds { models.retire(listeners[listener].model) }
    }

    /// Out of descriptors or memory: every listener of this worker waits a moment (the limits
    /// are process-wide), instead of accepting connections it could not serve. Logged once per
    /// episode, not once per retry.
    mutating func pauseAccepting(because error: Errno) {
        let wasPaused = listeners.states.contains { $0.retryAt != 0 }
        for index in listeners.indices where !listeners[index].closed {
            counters.add(.acceptPauses, service: UInt16(index))
            listeners[index].retryAt = now + Self.acceptRetryMilliseconds
            if listeners[index].armed { cancelAccept(index) }
        }
        guard !wasPaused && !listeners.pauseLogged else { return }
        listeners.pauseLogged = true
        let worker = UInt64(settings.index)
        log.write(.warn) { line in
            line.field("kind", "worker")
            line.field("worker", worker)
            line.field("msg", "accept paused: \(error); retrying every \(Self.acceptRetryMilliseconds)ms until descriptors free up")
        }
    }

    /// Starts queued connections for which places have freed up, then re-arms listeners whose
    /// retry time has come or whose service is below its limit with nobody queued.
    mutating func resumePausedListeners() {
        for index in listeners.indices where limitQueues[index].count > 0 {
            startQueuedConnections(service: UInt16(index))
        }
        for index in listeners.indices where listeners[index].inUse && (!draining || servesDuringDrain(index)) {
            let state = listeners[index]
            if state.retryAt != 0 && now >= state.retryAt {
                listeners[index].retryAt = 0
            }
            if state.atLimit, let limit = state.limit,
               shared.activeConnections(index) < limit, limitQueues[index].count == 0
            {
                listeners[index].atLimit = false
            }
            armAccept(index)
        }
    }

    /// Stops this worker accepting for `service`, which reached its connection limit
    /// (process-wide); logged once per episode.
    mutating func pauseAtLimit(service: UInt16) {
        var paused = false
        let index = Int(service)
        if !listeners[index].atLimit && !listeners[index].retired {
            listeners[index].atLimit = true
            paused = true
            counters.add(.acceptPauses, service: service)
            if listeners[index].armed { cancelAccept(index) }
        }
        guard paused, let limit = listeners[index].limit else { return }
        let (name, worker) = (models[listeners[index].model].pointee.name, UInt64(settings.index))
        log.write(.info) { line in
            line.field("kind", "service")
            line.field("service", name)
            line.field("worker", worker)
            line.field("msg", "maxConnections=\(limit) reached: accepting paused until a connection closes")
        }
    }

    /// A new client connection on `listener`: take a slot, and a place of its service, then
    /// start its first phase on the listener's current model. Without a free place (another
    /// worker's connection took the last one between our accept and now) it waits queued,
    /// untouched, and the listeners pause.
    mutating func openConnection(socket: Descriptor, listener: Int) {
        let serviceIndex = UInt16(listener)
        let model = listeners[listener].model
        counters.add(.connectionsAccepted, service: serviceIndex)
        guard let slot = slab.allocate() else {
            // Only reachable when the descriptor limit was raised after start-up.
            kernel.closeNow(socket)
            counters.addClose(.noScratchMemory, service: serviceIndex)
            return
        }
        let connection = slot.connection
        // From here on the slot owns the socket: every failure below must go through close().
        connection.pointee.phase = .accepted
        connection.pointee.service = serviceIndex
        connection.pointee.model = model
        models.retain(model)
        listeners.count(listener, 1)
        connection.pointee.clientSocket = socket
        connection.pointee.openedAt = monotonicNanoseconds()
        connection.pointee.lastActivity = now
        nextConnectionNumber += 1
        connection.pointee.id = UInt64(settings.index) << 48 | nextConnectionNumber & 0xFFFF_FFFF_FFFF
        connection.pointee.peer = (try? kernel.peerAddress(of: socket)).flatMap(IPEndpoint.init)
        guard connection.pointee.peer != nil else {
            // The client reset between the kernel's accept and now, and its address went with
            // it. Trust checks, logs and outgoing headers all need it: nothing about this
            // connection can be believed, so it ends here.
            close(slot, reason: .peerUnknown)
            return
        }
        // TCP_NODELAY came with the socket from its listener.
        logAccepted(slot)
        guard let limit = models[model].pointee.maxConnections else {
            shared.adjustActive(serviceIndex, by: 1)
            connection.pointee.holdsServicePlace = true
            startConnection(slot)
            return
        }
        guard limitQueues[Int(serviceIndex)].count == 0, shared.tryAcquire(serviceIndex, limit: limit) else {
            connection.pointee.phase = .queued
            limitQueues[Int(serviceIndex)].append(slot.index, in: slab.slots)
            pauseAtLimit(service: serviceIndex)
            return
        }
        connection.pointee.holdsServicePlace = true
        if shared.activeConnections(Int(serviceIndex)) >= limit { pauseAtLimit(service: serviceIndex) }
        startConnection(slot)
    }

    /// Queued connections of `service`, oldest first, as long as places are free (all of them
    /// once a reload has lifted the limit).
    private mutating func startQueuedConnections(service: UInt16) {
        let limit = listeners[Int(service)].limit ?? Int.max
        while let index = limitQueues[Int(service)].first, shared.tryAcquire(service, limit: limit) {
            limitQueues[Int(service)].remove(index, in: slab.slots)
            let slot = slab[index]
            slot.connection.pointee.holdsServicePlace = true
            slot.connection.pointee.phase = .accepted
            startConnection(slot)
        }
    }

    /// The connection's first phase: the header peek, the upstream connect, or an answer.
    private mutating func startConnection(_ slot: Slot) {
        let service = self.service(slot)
        if service.pointee.needsScratch {
            guard let chunk = scratch.allocate() else {
                close(slot, reason: .noScratchMemory)
                return
            }
            slot.connection.pointee.scratch = chunk
        }
        if service.pointee.detector != nil {
            startDetecting(slot)
            return
        }
        switch service.pointee.kind {
        case .whoami, .metrics:
            startServing(slot, header: nil, consumed: 0)
        case .proxy:
            startHandshake(slot, consumed: 0)
        case .forward:
            var preamble = ByteRange()
            if service.pointee.send != nil {
                guard let laidOut = preparePreamble(slot, header: nil, consumed: 0) else { return }
                preamble = laidOut
                // Early client bytes join the header in the first send when they arrive in time.
                armPeek(slot)
            }
            startConnect(slot, preamble: preamble)
        }
    }

    /// Stop accepting; let connections finish until `deadline`.
    mutating func beginDrain(deadline: UInt64) {
        drainDeadline = min(drainDeadline, deadline)
        guard !draining else { return }
        draining = true
        for index in listeners.indices { noteHandedOver(index) }
        for index in listeners.indices where !listeners[index].closed && !servesDuringDrain(index) { stopListening(index) }
        let (worker, open) = (UInt64(settings.index), UInt64(slab.active))
        log.write(.info) { line in
            line.field("kind", "worker")
            line.field("worker", worker)
            line.field("connections", open)
            line.field("msg", "draining: stopped accepting")
        }
    }

    /// Stops accepting on `listener` (drain, removal by a reload): its multishot accept is
    /// cancelled, the connections already in its backlog are served, and the socket closes now,
    /// or when the cancelled accept's last completion arrives if it is still in flight, so new
    /// clients are refused at once instead of waiting in a backlog nobody serves.
    mutating func stopListening(_ listener: Int) {
        if listeners[listener].armed { cancelAccept(listener) }
        noteHandedOver(listener)
        // Non-blocking, so that a sweep stops at an empty backlog instead of waiting in it. Not
        // a socket a successor took over: it serves the backlog, and the flag would be its too.
        listeners[listener].sweepable = !listeners[listener].handedOver
            && (try? kernel.setNonBlocking(listeners[listener].socket)) != nil
        if listeners[listener].armed {
            serveBacklog(listener)
        } else {
            closeServingBacklog(listener)
        }
    }

    /// Whether a successor confirmed it kept `listener`'s socket, read while the socket is open.
    mutating func noteHandedOver(_ listener: Int) {
        guard !listeners[listener].closed else { return }
        listeners[listener].handedOver = control.handedOver.contains(listeners[listener].socket)
    }

    /// Serves the connections waiting in `listener`'s backlog. The kernel completed their
    /// handshakes on our behalf: closing the socket over them would reset every one.
    mutating func serveBacklog(_ listener: Int) {
        guard listeners[listener].sweepable, !listeners[listener].closed else { return }
        while let socket = kernel.acceptWaiting(on: listeners[listener].socket) {
            openConnection(socket: socket, listener: listener)
        }
    }

    /// Closes `listener`'s socket right after a last sweep of its backlog, so clients that
    /// arrived while a cancelled accept was still in flight are served too. One whose handshake
    /// completes between that sweep and the close is still reset, unless the kernel moves it to
    /// another socket of the port's SO_REUSEPORT group (`net.ipv4.tcp_migrate_req=1`): that is
    /// what a successor process listening on the same port needs (README, Zero-loss replacement).
    mutating func closeServingBacklog(_ listener: Int) {
        serveBacklog(listener)
        listeners.close(listener, kernel)
    }

    /// The metrics endpoint keeps accepting through a drain, so `/ready` can answer 503 and
    /// scrapes see the drain, until the relayed connections are gone. Not after a handover: the
    /// successor answers on the same socket, and a draining 503 beside its answers would make
    /// a health check flap.
    func servesDuringDrain(_ listener: Int) -> Bool {
        !metricsEndpointClosed && listeners[listener].inUse && !listeners[listener].retired
            && models[listeners[listener].model].pointee.kind == .metrics && !listeners[listener].handedOver
    }

    /// Once per turn while draining: when nothing but the metrics endpoint is left, here and in
    /// the other workers (no relayed connection open, none this worker's accepts could still
    /// hand over), the endpoint closes as the listeners did, its open scrapes with it, so the
    /// worker can exit. Until then every worker answers, kept-alive scrapers included.
    mutating func closeMetricsEndpointAfterDrain() {
        guard draining else { return }
        if !metricsEndpointClosed {
            var metricsConnections = 0
            var relayedEverywhere = 0
            for index in listeners.indices where listeners[index].inUse {
                if servesDuringDrain(index) {
                    metricsConnections += Int(listeners[index].connections)
                } else if listeners[index].armed {
                    return
                } else {
                    relayedEverywhere += shared.activeConnections(index)
                }
            }
            guard slab.active == metricsConnections, relayedEverywhere == 0 else { return }
            var endpoints: [Int] = []
            for index in listeners.indices where servesDuringDrain(index) { endpoints.append(index) }
            metricsEndpointClosed = true
            for index in endpoints {
                if listeners[index].armed { cancelAccept(index) } else { listeners.close(index, kernel) }
            }
        }
        // What is left is the endpoint's: scrapes, and one its last accept may still hand over.
        if slab.active > 0 { closeAll(reason: .finished) }
    }

    /// Closes every open connection (drain deadline, stop).
    mutating func closeAll(reason: CloseReason) {
        for index in 0..<Int32(slab.highWater) where slab[index].connection.pointee.phase.isLive {
            close(slab[index], reason: reason)
        }
    }
}
