import Glibc
import ProxyProtocol
import Uring

/// The connecting phase: a socket to the next upstream address, a connect on the ring bounded by
/// a linked timeout, and on success the move to relaying with the preamble first.
extension Worker {
    /// Connections start at the next target in turn (round robin per worker); a failure tries the
    /// target's next address, then the next target, until every target was tried once. Targets
    /// marked down are skipped (see `TargetHealthView`) unless every target is.
    /// Through `-F` proxy hops the targets are the first hop's nodes; `request` and
    /// `destination` say what the client asked for (a `tcp://` service's destination is its next
    /// chain target).
    mutating func startConnect(
        _ slot: Slot, preamble: ByteRange, request: ClientRequest = .none, destination: Destination? = nil
    ) {
        let modelIndex = Int(slot.connection.pointee.model)
        let targetCount = endpoints.targetCount(service: modelIndex)
        var connecting = Connecting(preamble: preamble)
        connecting.request = request
        if let destination {
            connecting.destination = destination
        } else if service(slot).pointee.chained {
            guard let next = nextChainTarget(slot) else { return }
            connecting.destination = next
        }
        connecting.target = models.roundRobin[modelIndex] % UInt32(max(targetCount, 1))
        models.roundRobin[modelIndex] &+= 1
        if let health = service(slot).pointee.health, health.everyTargetDown { connecting.ignoresHealth = true }
        attemptConnect(slot, connecting, lastError: nil)
    }

    /// Connects to `connecting`'s current address, or the next one that has any; closes the
    /// client when every target was tried (`lastError` is the failure that led here).
    private mutating func attemptConnect(_ slot: Slot, _ attempt: Connecting, lastError: Errno?) {
        let modelIndex = Int(slot.connection.pointee.model)
        let targetCount = endpoints.targetCount(service: modelIndex)
        let health = service(slot).pointee.health
        var connecting = attempt
        while Int(connecting.targetsTried) < targetCount {
            let target = Int(connecting.target)
            if connecting.address == 0, !connecting.ignoresHealth, let health, !health.admits(target, now: now) {
                // Marked down: skipped.
            } else if Int(connecting.address) < endpoints.addressCount(service: modelIndex, target: target) {
                break
            } else if connecting.address > 0, let health {
                // Every address of the target failed: one failure of the target.
                targetFailed(slot, health, target, lastError: lastError)
            }
            // Past a target's last address (or one that has none now, or one skipped): the next.
            connecting.target = (connecting.target + 1) % UInt32(targetCount)
            connecting.address = 0
            connecting.targetsTried += 1
        }
        guard Int(connecting.targetsTried) < targetCount else {
            upstreamUnreachable(slot, connecting, lastError: lastError)
            return
        }
        let (target, address) = (Int(connecting.target), Int(connecting.address))
        dial(slot, connecting, endpoint: endpoints.endpoint(service: modelIndex, target: target, address: address),
             address: endpoints.address(service: modelIndex, target: target, address: address))
    }

    /// A socket to `endpoint` and a connect to `address` (its kernel form, which must stay put
    /// until submitted) bounded by the service's linked timeout.
    mutating func dial(_ slot: Slot, _ connecting: Connecting, endpoint: IPEndpoint, address: UnsafePointer<SocketAddress>) {
        let socket: Descriptor
        do {
            socket = try kernel.openSocket(family: endpoint.family)
        } catch {
            logUpstreamFailure(slot, endpoint: endpoint, connecting, error: error, timedOut: false)
            upstreamUnreachable(slot, connecting, lastError: error)
            if error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem { pauseAccepting(because: error) }
            return
        }
        kernel.disableNagle(socket)
        logDialing(slot, to: endpoint, connecting)
        slot.connection.pointee.upstreamSocket = socket
        slot.connection.pointee.phase = .connecting(connecting)
        kernel.prepareConnect(
            socket: socket, address: address, timeout: endpoints.connectTimeout(service: Int(slot.connection.pointee.model)),
            userData: slot.userData(.connect), timeoutUserData: slot.userData(.connectTimeout))
        slot.connection.pointee.inflight += 2
    }

    /// Every address was tried (or no socket could be had): a proxy client gets its protocol's
    /// error reply, anyone else a close.
    mutating func upstreamUnreachable(_ slot: Slot, _ connecting: Connecting, lastError: Errno?) {
        guard connecting.request != .none else {
            close(slot, reason: .upstreamUnavailable, errno: lastError)
            return
        }
        let detail = lastError?.rawValue == ETIMEDOUT
            ? "connect timed out" : "connect failed: \(lastError.map { "\($0)" } ?? "no address")"
        requestFailed(slot, connecting.request, reason: .upstreamUnavailable, errno: lastError, detail: detail)
    }

    mutating func connectCompleted(_ slot: Slot, _ connecting: Connecting, _ completion: Completion) {
        let connection = slot.connection
        let modelIndex = Int(connection.pointee.model)
        let requested = connecting.candidates > 0
        // The slot is within the target's run even if a refresh has rewritten it since.
        let endpoint = requested
            ? IPEndpoint(candidate(slot, Int(connecting.address)).pointee) ?? IPEndpoint(address: .v4(.any), port: 0)
            : endpoints.endpoint(service: modelIndex, target: Int(connecting.target), address: Int(connecting.address))
        if case .failure(let error) = completion.result {
            // Outside closing, only the linked timeout cancels a connect.
            let timedOut = error == .canceled
            counters.add(.upstreamConnectFailures, service: connection.pointee.service)
            if timedOut { counters.add(.upstreamConnectTimeouts, service: connection.pointee.service) }
            if !requested, let health = service(slot).pointee.health { health.countConnectFailure(Int(connecting.target)) }
            logUpstreamFailure(slot, endpoint: endpoint, connecting, error: error, timedOut: timedOut)
            kernel.closeNow(connection.pointee.upstreamSocket)
            connection.pointee.upstreamSocket = .none
            var next = connecting
            next.address += 1
            let lastError = timedOut ? Errno(rawValue: ETIMEDOUT) : error
            if requested {
                attemptRequestedConnect(slot, next, lastError: lastError)
            } else {
                attemptConnect(slot, next, lastError: lastError)
            }
            return
        }
        connection.pointee.lastActivity = now
        if !requested, let health = service(slot).pointee.health, let transition = health.recordSuccess(Int(connecting.target)) {
            logTargetHealth(slot, transition, target: Int(connecting.target), cause: "connect to \(endpoint) succeeded")
        }
        if service(slot).pointee.chained {
            // The pipe starts once the last hop's tunnel is up; that is when `R <-> T` is logged.
            startNegotiating(slot, connecting)
            return
        }
        logConnected(slot, to: endpoint, connecting)
        if connecting.request == .none {
            startRelaying(slot, preamble: connecting.preamble)
        } else {
            startRelaying(slot, preamble: connecting.preamble, replyingTo: connecting.request)
        }
    }

    /// Relaying, copy or splice as the service says, with the idle timer. `reply` bytes of the
    /// scratch chunk go to the client before anything from upstream.
    mutating func startRelaying(_ slot: Slot, preamble: ByteRange, reply: ByteRange = ByteRange()) {
        if service(slot).pointee.splice {
            startSplicing(slot, preamble: preamble, reply: reply)
        } else {
            startCopying(slot, preamble: preamble, reply: reply)
        }
        let idle = service(slot).pointee.idleTimeoutMilliseconds
        if idle > 0, case .relaying = slot.connection.pointee.phase {
            timers.schedule(slot.index, deadline: now + idle, in: slab.slots)
        }
    }

    /// The same, for a proxy client owed its success reply (which always fits the reply area;
    /// if it ever did not, the client would be told nothing, so that closes instead).
    mutating func startRelaying(_ slot: Slot, preamble: ByteRange, replyingTo request: ClientRequest) {
        guard let length = successReply(slot, request) else {
            internalError(slot, "the \(request) success reply does not fit")
            return
        }
        startRelaying(slot, preamble: preamble, reply: ByteRange(start: 0, end: UInt32(length)))
    }

    /// A `tcp://` service's destination through its chain: its targets in turn, as written; nil
    /// after closing the connection if the name does not fit (validation keeps names shorter).
    private mutating func nextChainTarget(_ slot: Slot) -> Destination? {
        let modelIndex = Int(slot.connection.pointee.model)
        let targets = service(slot).pointee.chainTargets
        let target = targets[Int(models.chainRoundRobin[modelIndex] % UInt32(targets.count))]
        models.chainRoundRobin[modelIndex] &+= 1
        var destination = Destination(port: target.port)
        if target.host.isEmpty {
            destination.address = .v4(.loopback)
        } else if let address = IPAddress(target.host) {
            destination.address = address
        } else {
            guard let length = storeDestinationName(slot, target.host) else {
                internalError(slot, "target name \(target.host) is longer than the destination area")
                return nil
            }
            destination.nameLength = UInt16(length)
        }
        return destination
    }

    /// The configured name of the target (or first hop node) being dialled; nil for an address a
    /// proxy client asked for.
    func nodeName(_ slot: Slot, _ connecting: Connecting) -> String? {
        guard connecting.candidates == 0 else { return nil }
        let names = service(slot).pointee.nodeNames
        return names.indices.contains(Int(connecting.target)) ? names[Int(connecting.target)] : nil
    }

    private mutating func logUpstreamFailure(_ slot: Slot, endpoint: IPEndpoint, _ connecting: Connecting, error: Errno, timedOut: Bool) {
        let fields = logFields(slot)
        let node = nodeName(slot, connecting)
        log.write(.warn) { line in
            fields.write(&line)
            if let node { line.field("node", node) }
            line.field("dst", endpoint)
            line.field("msg", timedOut ? "connect to \(endpoint): timed out" : "connect to \(endpoint): \(error)")
        }
    }
}
