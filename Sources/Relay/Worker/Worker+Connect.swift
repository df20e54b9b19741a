import CLiburing
import Glibc
import ProxyProtocol
import Uring

extension Worker {
    /// Opens a socket to the next upstream endpoint and connects it on the ring, bounded by the
    /// service's connect timeout. The first attempt starts at a rotating endpoint so load spreads
    /// over a service's targets; failures move on to the next one until each was tried once.
    mutating func startConnect(_ index: Int32, firstAttempt: Bool) {
        let connection = slab[index]
        let service = services[Int(connection.pointee.service)]
        let serviceIndex = Int(service.index)
        let endpointCount = endpoints.count(service: serviceIndex)
        guard endpointCount > 0 else {
            close(index, reason: .upstreamUnavailable)
            return
        }
        if firstAttempt {
            connection.pointee.endpoint = UInt32(nextConnectionNumber % UInt64(endpointCount))
        }
        connection.pointee.connectAttempts += 1
        let endpointIndex = Int(connection.pointee.endpoint) % endpointCount
        let endpoint = endpoints.endpoint(service: serviceIndex, endpointIndex)
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
        let (address, length) = endpoints.address(service: serviceIndex, endpointIndex)
        ring.prepareConnect(
            socket: socket, address: address, addressLength: length, userData: userData(.connect, index),
            timeout: endpoints.connectTimeout(service: Int(service.index)),
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
        // The table may have been refreshed since this connect started; stay in range.
        let endpointCount = max(endpoints.count(service: serviceIndex), 1)
        let endpoint = endpoints.endpoint(service: serviceIndex, Int(connection.pointee.endpoint) % endpointCount)
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
            if Int(connection.pointee.connectAttempts) < endpoints.count(service: serviceIndex) {
                connection.pointee.endpoint = UInt32((Int(connection.pointee.endpoint) + 1) % endpointCount)
                startConnect(index, firstAttempt: false)
            } else {
                close(index, reason: .upstreamUnavailable, errno: timedOut ? ETIMEDOUT : error.rawValue)
            }
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
