import CLiburing
import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

extension Worker {
    /// Pause after EMFILE/ENFILE/ENOMEM before trying again: long enough not to spin, short
    /// enough that a freed descriptor is used promptly.
    static let acceptRetryMilliseconds: UInt64 = 100

    mutating func armAccept(_ listener: Int) {
        let state = listeners[listener]
        guard !state.armed, !state.closed, !draining else { return }
        ring.prepareMultishotAccept(listener: state.socket, userData: UserData.pack(.accept, slot: Int32(listener), generation: 0))
        listeners[listener].armed = true
        acceptsInFlight += 1
    }

    var hasPausedListener: Bool {
        listeners.contains { $0.retryAt != 0 || $0.atLimit }
    }

    mutating func handleAccept(listener: Int, _ completion: Completion) {
        if !completion.hasMore {
            listeners[listener].armed = false
            acceptsInFlight -= 1
            if draining { closeListener(listener) }
        }
        let service = listeners[listener].service
        if completion.result >= 0 {
            acceptPauseLogged = false
            openConnection(socket: completion.result, service: service)
        } else if let error = completion.errno, error != .canceled {
            counters.add(.acceptErrors, service: service)
            switch error.rawValue {
            case EMFILE, ENFILE, ENOMEM, ENOBUFS:
                // The connection stays in the kernel's backlog; try again shortly.
                pauseAccepting(because: error)
            default:
                // ECONNABORTED and friends concern one half-open connection only.
                let name = services[Int(service)].config.name
                log.write(.debug) { line in
                    line.field("kind", "service")
                    line.field("service", name)
                    line.field("msg", "accept: \(error)")
                }
            }
        }
        if !listeners[listener].armed && listeners[listener].retryAt == 0 && !listeners[listener].atLimit {
            armAccept(listener)
        }
    }

    /// Out of descriptors or memory: every listener of this worker waits a moment (the limits
    /// are process-wide), instead of accepting connections it could not serve. Logged once per
    /// episode, not once per retry.
    mutating func pauseAccepting(because error: Errno) {
        let wasPaused = listeners.contains { $0.retryAt != 0 }
        for index in listeners.indices where !listeners[index].closed {
            counters.add(.acceptPauses, service: listeners[index].service)
            listeners[index].retryAt = now + Worker.acceptRetryMilliseconds
            if listeners[index].armed { cancelAccept(index) }
        }
        guard !wasPaused && !acceptPauseLogged else { return }
        acceptPauseLogged = true
        let worker = UInt64(control.index)
        log.write(.warn) { line in
            line.field("kind", "worker")
            line.field("worker", worker)
            line.field("msg", "accept paused: \(error); retrying every \(Worker.acceptRetryMilliseconds)ms until descriptors free up")
        }
    }

    func cancelAccept(_ listener: Int) {
        ring.prepareCancel(
            target: UserData.pack(.accept, slot: Int32(listener), generation: 0),
            userData: UserData.pack(.cancel, slot: -1, generation: 0))
    }

    /// Starts queued connections for which places have freed up, then re-arms listeners whose
    /// retry time has come or whose service is below its limit with nobody queued.
    mutating func resumePausedListeners() {
        for service in services.indices where services[service].config.maxConnections != nil {
            startQueuedConnections(service: UInt16(service))
        }
        guard !draining else { return }
        for index in listeners.indices {
            let state = listeners[index]
            if state.retryAt != 0 && now >= state.retryAt {
                listeners[index].retryAt = 0
            }
            if state.atLimit, let limit = services[Int(state.service)].config.maxConnections,
               shared.activeConnections(Int(state.service)) < limit, limitQueues[Int(state.service)].count == 0
            {
                listeners[index].atLimit = false
            }
            let current = listeners[index]
            if !current.armed && current.retryAt == 0 && !current.atLimit { armAccept(index) }
        }
    }

    /// Stops this worker accepting for `service`, which reached its connection limit
    /// (process-wide); logged once per episode.
    mutating func pauseAtLimit(service: UInt16) {
        var paused = false
        for index in listeners.indices where listeners[index].service == service && !listeners[index].atLimit {
            listeners[index].atLimit = true
            paused = true
            counters.add(.acceptPauses, service: service)
            if listeners[index].armed { cancelAccept(index) }
        }
        guard paused, let limit = services[Int(service)].config.maxConnections else { return }
        let (name, worker) = (services[Int(service)].config.name, UInt64(control.index))
        log.write(.info) { line in
            line.field("kind", "service")
            line.field("service", name)
            line.field("worker", worker)
            line.field("msg", "maxConnections=\(limit) reached: accepting paused until a connection closes")
        }
    }

    /// A new client connection: take a slot, and a place of its service, then start its first
    /// phase. Without a free place (another worker's connection took the last one between our
    /// accept and now) it waits queued, untouched, and the listeners pause.
    mutating func openConnection(socket: Int32, service serviceIndex: UInt16) {
        counters.add(.connectionsAccepted, service: serviceIndex)
        guard let index = slab.allocate() else {
            // Only reachable when the descriptor limit was raised after start-up.
            Glibc.close(socket)
            counters.addClose(.noScratchMemory, service: serviceIndex)
            return
        }
        let connection = slab[index]
        // From here on the slot owns the socket: every failure below must go through close().
        connection.pointee.state = .accepted
        connection.pointee.service = serviceIndex
        connection.pointee.clientSocket = socket
        connection.pointee.openedAt = monotonicNanoseconds()
        connection.pointee.lastActivity = now
        nextConnectionNumber += 1
        connection.pointee.id = UInt64(control.index) << 48 | nextConnectionNumber & 0xFFFF_FFFF_FFFF
        connection.pointee.peer = peerEndpoint(of: socket)
        guard connection.pointee.peer != nil else {
            // The client reset between the kernel's accept and now, and its address went with
            // it. Trust checks, logs and outgoing headers all need it: nothing about this
            // connection can be believed, so it ends here.
            close(index, reason: .peerUnknown)
            return
        }
        // Small writes (a PROXY header, an HTTP response) must not wait for Nagle.
        setSocketOption(socket, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        logAccepted(index)
        guard let limit = services[Int(serviceIndex)].config.maxConnections else {
            shared.adjustActive(serviceIndex, by: 1)
            connection.pointee.holdsServicePlace = true
            startConnection(index)
            return
        }
        guard limitQueues[Int(serviceIndex)].count == 0, shared.tryAcquire(serviceIndex, limit: limit) else {
            connection.pointee.state = .queued
            limitQueues[Int(serviceIndex)].append(index, in: slab.slots)
            pauseAtLimit(service: serviceIndex)
            return
        }
        connection.pointee.holdsServicePlace = true
        if shared.activeConnections(Int(serviceIndex)) >= limit { pauseAtLimit(service: serviceIndex) }
        startConnection(index)
    }

    /// Queued connections of `service`, oldest first, as long as places are free.
    private mutating func startQueuedConnections(service: UInt16) {
        guard let limit = services[Int(service)].config.maxConnections else { return }
        while let index = limitQueues[Int(service)].first, shared.tryAcquire(service, limit: limit) {
            limitQueues[Int(service)].remove(index, in: slab.slots)
            slab[index].pointee.holdsServicePlace = true
            slab[index].pointee.state = .accepted
            startConnection(index)
        }
    }

    /// The connection's first phase: the header peek, the upstream connect, or an answer.
    private mutating func startConnection(_ index: Int32) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        if service.needsScratch {
            guard let chunk = scratch.allocate() else {
                close(index, reason: .noScratchMemory)
                return
            }
            connection.pointee.scratch = chunk
        }
        switch service.config.kind {
        case .whoami, .metrics:
            if service.detector != nil {
                startDetecting(index, service: service)
            } else {
                startServing(index)
            }
        case .forward:
            if service.detector != nil {
                startDetecting(index, service: service)
            } else {
                if service.config.sendProxy != nil {
                    guard preparePreamble(index, header: nil, consumed: 0) else { return }
                    // Early client bytes join the header in the first send when they arrive in time.
                    armScratchReceive(index)
                }
                startConnect(index, firstAttempt: true)
            }
        }
    }

    /// Stop accepting; let connections finish until `deadline`.
    mutating func beginDrain(deadline: UInt64) {
        drainDeadline = min(drainDeadline, deadline)
        guard !draining else { return }
        draining = true
        for index in listeners.indices {
            if listeners[index].armed { cancelAccept(index) }
            // Connections already queued in the backlog were accepted by the kernel on our
            // behalf: serve them rather than reset them when the socket closes.
            let flags = fcntl(listeners[index].socket, F_GETFL)
            _ = fcntl(listeners[index].socket, F_SETFL, flags | O_NONBLOCK)
            while true {
                let socket = accept4(listeners[index].socket, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
                if socket < 0 { break }
                openConnection(socket: socket, service: listeners[index].service)
            }
            // New clients get a prompt refusal instead of waiting in a backlog nobody serves.
            // A socket with an accept still in flight closes when its last completion arrives.
            if !listeners[index].armed { closeListener(index) }
        }
        let (worker, open) = (UInt64(control.index), UInt64(slab.active))
        log.write(.info) { line in
            line.field("kind", "worker")
            line.field("worker", worker)
            line.field("connections", open)
            line.field("msg", "draining: stopped accepting")
        }
    }

    mutating func closeListener(_ index: Int) {
        guard !listeners[index].closed else { return }
        Glibc.close(listeners[index].socket)
        listeners[index].closed = true
    }

    /// Closes every open connection (drain deadline, stop).
    mutating func closeAll(reason: CloseReason) {
        for index in 0..<Int32(slab.highWater) {
            let state = slab[index].pointee.state
            if state != .free && state != .closing { close(index, reason: reason) }
        }
    }
}
