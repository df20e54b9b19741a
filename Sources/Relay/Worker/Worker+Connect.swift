import CLiburing
import Glibc
import ProxyProtocol
import Uring

extension Worker {
    /// Opens a socket to the next upstream address and connects it on the ring, bounded by the
    /// service's connect timeout. Connections start at the next target in turn (round robin per
    /// worker); a failure tries the target's next address, then the next target, until every
    /// target was tried once. `lastError` is the failure that led here, for the final close.
    mutating func startConnect(_ index: Int32, firstAttempt: Bool, lastError: Int32 = 0) {
        let connection = slab[index]
        let serviceIndex = Int(connection.pointee.service)
        let targetCount = endpoints.targetCount(service: serviceIndex)
        if firstAttempt {
            connection.pointee.target = roundRobin[serviceIndex] % UInt32(max(targetCount, 1))
            roundRobin[serviceIndex] &+= 1
            connection.pointee.targetAddress = 0
            connection.pointee.targetsTried = 0
        }
        // Past a target's last address (or one that has none now): the next target.
        while Int(connection.pointee.targetsTried) < targetCount,
            Int(connection.pointee.targetAddress)
                >= endpoints.addressCount(service: serviceIndex, target: Int(connection.pointee.target))
        {
            connection.pointee.target = (connection.pointee.target + 1) % UInt32(targetCount)
            connection.pointee.targetAddress = 0
            connection.pointee.targetsTried += 1
        }
        guard Int(connection.pointee.targetsTried) < targetCount else {
            close(index, reason: .upstreamUnavailable, errno: lastError)
            return
        }
        let (target, address) = (Int(connection.pointee.target), Int(connection.pointee.targetAddress))
        let endpoint = endpoints.endpoint(service: serviceIndex, target: target, address: address)
        let socket = Glibc.socket(endpoint.family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else {
            let error = Errno.current
            logUpstreamFailure(index, endpoint: endpoint, error: error, timedOut: false)
            close(index, reason: .upstreamUnavailable, errno: error.rawValue)
            if error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem { pauseAccepting(because: error) }
            return
        }
        setSocketOption(socket, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        connection.pointee.upstreamSocket = socket
        connection.pointee.state = .connecting
        let (sockaddr, length) = endpoints.address(service: serviceIndex, target: target, address: address)
        ring.prepareConnect(
            socket: socket, address: sockaddr, addressLength: length, userData: userData(.connect, index),
            timeout: endpoints.connectTimeout(service: serviceIndex),
            timeoutUserData: userData(.connectTimeout, index))
        connection.pointee.inflight += 2
    }

    /// The linked timeout's own completion. When it fired, the connect completes with
    /// -ECANCELED and is handled there; nothing to do here either way.
    mutating func handleConnectTimeout(_ index: Int32, _ completion: Completion) {}

    mutating func handleConnect(_ index: Int32, _ completion: Completion) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let serviceIndex = Int(service.index)
        // The slot is within the target's run even if a refresh has rewritten it since.
        let endpoint = endpoints.endpoint(
            service: serviceIndex, target: Int(connection.pointee.target), address: Int(connection.pointee.targetAddress))
        guard completion.result == 0 else {
            let error = Errno(rawValue: -completion.result)
            // Outside closing, only the linked timeout cancels a connect.
            let timedOut = error == .canceled
            counters.add(.upstreamConnectFailures, service: connection.pointee.service)
            if timedOut { counters.add(.upstreamConnectTimeouts, service: connection.pointee.service) }
            logUpstreamFailure(index, endpoint: endpoint, error: error, timedOut: timedOut)
            Glibc.close(connection.pointee.upstreamSocket)
            connection.pointee.upstreamSocket = -1
            refresher.requestRefresh(service: serviceIndex)
            connection.pointee.targetAddress += 1
            startConnect(index, firstAttempt: false, lastError: timedOut ? ETIMEDOUT : error.rawValue)
            return
        }
        connection.pointee.state = .relaying
        connection.pointee.lastActivity = now
        logConnected(index, to: endpoint)
        if service.config.splice {
            startSplicing(index)
        } else {
            if connection.pointee.preambleEnd > connection.pointee.preambleStart {
                connection.pointee.inbound.enqueue(PendingSend(
                    buffer: PendingSend.scratch, start: connection.pointee.preambleStart, end: connection.pointee.preambleEnd))
                startSend(index, .inbound)
            } else {
                releaseScratchIfUnused(index)
            }
            if connection.pointee.inbound.sourceClosed {
                finishDirectionIfDrained(index, .inbound)
            } else if !connection.pointee.scratchReceiveArmed {
                armReceive(index, .inbound)
            }
            armReceive(index, .outbound)
        }
        if service.idleTimeoutMilliseconds > 0 && slab[index].pointee.state == .relaying {
            timers.schedule(index, deadline: now + service.idleTimeoutMilliseconds, in: slab.slots)
        }
    }

    private mutating func logUpstreamFailure(_ index: Int32, endpoint: IPEndpoint, error: Errno, timedOut: Bool) {
        let fields = logFields(index)
        log.write(.warn) { line in
            fields.write(&line)
            line.field("dst", endpoint)
            line.field("msg", timedOut ? "connect to \(endpoint): timed out" : "connect to \(endpoint): \(error)")
        }
    }
}
