import ProxyProtocol
import Synchronization

/// Counters kept per service, per worker.
enum Counter: Int, CaseIterable {
    case connectionsAccepted
    case connectionsClosed
    case bytesClientToUpstream
    case bytesUpstreamToClient
    case upstreamConnectFailures
    case upstreamConnectTimeouts
    case proxyHeadersV1
    case proxyHeadersV2
    /// LOCAL (v2) or UNKNOWN (v1): the socket endpoints were used.
    case proxyHeadersLocal
    case proxyHeadersAbsent
    case proxyHeadersSent
    case acceptErrors
    case acceptPauses
    case bufferWaits
    /// A multishot receive reached its direction's buffer limit and was cancelled.
    case multishotStops
    /// The main buffer pool ran empty at its capacity and receives moved to the reserve.
    case bufferPoolExhausted
    case httpRequests
    /// Proxy services: requests (HTTP, SOCKS) read whole, and handshakes refused or failed.
    case proxyRequests
    case handshakeFailures
    /// Closing connections whose requests had not all completed after the close watchdog's delay.
    case closeStalls
    /// Gauge, kept on service 0's row: provided buffers held by connections right now.
    case buffersInUse
    /// Gauge, kept on service 0's row: receive buffers put into circulation so far.
    case buffersProvisioned
    /// Gauge, kept on service 0's row: bytes of receive buffers in circulation (both pools).
    case bufferMemoryBytes
    /// Kept on service 0's row: log lines dropped because the log output was not keeping up.
    case logLinesDropped

    var isGauge: Bool { self == .buffersInUse || self == .buffersProvisioned || self == .bufferMemoryBytes }

    /// Exported once per process, without a service label.
    var isProcessWide: Bool { isGauge || self == .logLinesDropped }

    var metricName: String {
        switch self {
        case .connectionsAccepted: return "ringway_connections_accepted_total"
        case .connectionsClosed: return "ringway_connections_closed_total"
        case .bytesClientToUpstream: return "ringway_bytes_client_to_upstream_total"
        case .bytesUpstreamToClient: return "ringway_bytes_upstream_to_client_total"
        case .upstreamConnectFailures: return "ringway_upstream_connect_failures_total"
        case .upstreamConnectTimeouts: return "ringway_upstream_connect_timeouts_total"
        case .proxyHeadersV1: return "ringway_proxy_headers_received_v1_total"
        case .proxyHeadersV2: return "ringway_proxy_headers_received_v2_total"
        case .proxyHeadersLocal: return "ringway_proxy_headers_local_total"
        case .proxyHeadersAbsent: return "ringway_proxy_headers_absent_total"
        case .proxyHeadersSent: return "ringway_proxy_headers_sent_total"
        case .acceptErrors: return "ringway_accept_errors_total"
        case .acceptPauses: return "ringway_accept_pauses_total"
        case .bufferWaits: return "ringway_buffer_waits_total"
        case .multishotStops: return "ringway_multishot_receive_stops_total"
        case .bufferPoolExhausted: return "ringway_buffer_pool_exhausted_total"
        case .httpRequests: return "ringway_http_requests_total"
        case .proxyRequests: return "ringway_proxy_requests_total"
        case .handshakeFailures: return "ringway_handshake_failures_total"
        case .closeStalls: return "ringway_close_stalls_total"
        case .buffersInUse: return "ringway_buffers_in_use"
        case .buffersProvisioned: return "ringway_buffers_provisioned"
        case .logLinesDropped: return "ringway_log_lines_dropped_total"
        case .bufferMemoryBytes: return "ringway_buffer_memory_bytes"
        }
    }

    var help: String {
        switch self {
        case .connectionsAccepted: return "Client connections accepted."
        case .connectionsClosed: return "Client connections closed, for any reason."
        case .bytesClientToUpstream: return "Bytes received from clients and relayed upstream."
        case .bytesUpstreamToClient: return "Bytes received from upstreams and relayed to clients."
        case .upstreamConnectFailures: return "Upstream connect attempts that failed (refused, unreachable, timed out)."
        case .upstreamConnectTimeouts: return "Upstream connect attempts that hit the connect timeout."
        case .proxyHeadersV1: return "PROXY v1 headers accepted."
        case .proxyHeadersV2: return "PROXY v2 headers accepted."
        case .proxyHeadersLocal: return "Accepted PROXY headers that were LOCAL or UNKNOWN (socket endpoints used)."
        case .proxyHeadersAbsent: return "Connections on a PROXY-receiving service that sent no header (optional policy)."
        case .proxyHeadersSent: return "PROXY headers written to upstreams."
        case .acceptErrors: return "accept() failures (EMFILE, ENFILE, ENOMEM, ...)."
        case .acceptPauses: return "Times accepting paused (file limit, maxConnections)."
        case .bufferWaits: return "Receives that found the buffer pool empty and waited for buffers."
        case .multishotStops: return "Multishot receives cancelled at their direction's buffer limit (the direction then receives single-shot)."
        case .bufferPoolExhausted: return "Times every main receive buffer was held (slow readers) and receives moved to the reserve pool (16 KiB buffers, or --buffer-size if smaller)."
        case .httpRequests: return "Requests answered by built-in HTTP services (whoami, metrics)."
        case .proxyRequests: return "Proxy requests (HTTP CONNECT or absolute URI, SOCKS CONNECT) read whole."
        case .handshakeFailures: return "Proxy handshakes refused or failed (malformed, unauthenticated, unsupported, unreachable)."
        case .closeStalls: return "Times a closing connection still had requests in flight after 2 s; they were cancelled again and its sockets shut down."
        case .buffersInUse: return "Provided receive buffers held by connections (queued or being sent)."
        case .buffersProvisioned: return "Main-pool receive buffers in circulation; the pool grows on demand (up to --buffers per worker and the --buffer-memory share) and idle ones are released."
        case .bufferMemoryBytes: return "Bytes of receive buffers in circulation, both pools, all workers: at most --buffer-memory; idle ones are released within seconds."
        case .logLinesDropped: return "Log lines dropped because the log output (stderr) did not take them without blocking."
        }
    }
}

/// One worker's counters. The owning worker is the only writer (a relaxed load and store, no
/// read-modify-write); any thread may read them with relaxed loads, so a scrape never stalls
/// the data path.
struct CounterBlock: @unchecked Sendable {
    static let closeReasonBase = Counter.allCases.count
    static let proxyRejectBase = closeReasonBase + CloseReason.allCases.count
    static let perService = proxyRejectBase + ProxyProtocolErrorCode.allCases.count

    let services: Int
    private let storage: UnsafeMutablePointer<Atomic<UInt64>>

    init(services: Int) {
        self.services = services
        storage = .allocate(capacity: services * CounterBlock.perService)
        for index in 0..<(services * CounterBlock.perService) {
            (storage + index).initialize(to: Atomic(0))
        }
    }

    /// Only after every thread that uses the block has exited.
    func deallocate() {
        storage.deinitialize(count: services * CounterBlock.perService)
        storage.deallocate()
    }

    @inline(__always)
    func add(_ counter: Counter, service: UInt16, _ amount: UInt64 = 1) {
        add(slot: counter.rawValue, service: service, amount)
    }

    /// Sets a gauge (owner thread only).
    @inline(__always)
    func set(_ counter: Counter, service: UInt16, _ value: UInt64) {
        let cell = storage + (Int(service) * CounterBlock.perService + counter.rawValue)
        cell.pointee.store(value, ordering: .relaxed)
    }

    @inline(__always)
    func addClose(_ reason: CloseReason, service: UInt16) {
        add(slot: CounterBlock.closeReasonBase + Int(reason.rawValue), service: service, 1)
    }

    @inline(__always)
    func addProxyRejection(_ code: ProxyProtocolErrorCode, service: UInt16) {
        // Rejections are rare; a lookup keeps the counter layout independent of raw values.
        let offset = ProxyProtocolErrorCode.allCases.firstIndex(of: code) ?? 0
        add(slot: CounterBlock.proxyRejectBase + offset, service: service, 1)
    }

    @inline(__always)
    private func add(slot: Int, service: UInt16, _ amount: UInt64) {
        let cell = storage + (Int(service) * CounterBlock.perService + slot)
        cell.pointee.store(cell.pointee.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Zeroes `service`'s row before a reload gives the slot to another service; the
    /// process-wide counters kept on row 0 stay. Only while no worker writes the row.
    func reset(service: Int) {
        for slot in 0..<CounterBlock.perService {
            if service == 0, slot < Counter.allCases.count, Counter.allCases[slot].isProcessWide { continue }
            (storage + (service * CounterBlock.perService + slot)).pointee.store(0, ordering: .relaxed)
        }
    }

    func load(slot: Int, service: Int) -> UInt64 {
        (storage + (service * CounterBlock.perService + slot)).pointee.load(ordering: .relaxed)
    }
}
