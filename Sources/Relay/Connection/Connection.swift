import ProxyProtocol
import RingwayConfig

/// One client connection and its upstream, stored by value in the worker's slab.
///
/// Plain data only (no references), so the slab holds it without ARC and a freed slot is reused
/// without allocation. `generation` changes every time the slot is freed; completions carry it.
struct Connection {
    enum State: UInt8 {
        case free
        /// Taken by a new client; its first phase has not started yet.
        case accepted
        /// Accepted while its service was at maxConnections (another worker's accept raced
        /// ours): held, untouched, until a place frees up, as if still in the listen backlog.
        case queued
        /// Waiting for the client's first bytes to decide whether a PROXY header is there.
        case detecting
        /// Upstream connect in flight.
        case connecting
        /// Both sockets open, bytes moving both ways.
        case relaying
        /// A built-in HTTP responder (whoami, metrics) is answering the client.
        case serving
        /// Requests are being canceled; the slot is freed when the last completion arrives.
        case closing
    }

    var state = State.free
    var generation: UInt32 = 0
    var service: UInt16 = 0
    /// Requests submitted for this slot whose final completion has not arrived yet.
    var inflight: UInt16 = 0
    var clientSocket: Int32 = -1
    var upstreamSocket: Int32 = -1

    /// client -> upstream
    var inbound = Direction()
    /// upstream -> client
    var outbound = Direction()

    /// Splice mode: pipes per direction (read end, write end).
    var inboundPipe: (read: Int32, write: Int32) = (-1, -1)
    var outboundPipe: (read: Int32, write: Int32) = (-1, -1)

    /// Index in the worker's scratch pool, or -1.
    var scratch: Int32 = -1
    /// Bytes received into the scratch chunk's incoming area.
    var scratchFilled: UInt32 = 0
    /// A receive into the scratch chunk is in flight.
    var scratchReceiveArmed = false
    /// Bytes to send upstream first (outgoing PROXY header + early client bytes), in the chunk.
    /// HTTP services reuse the pair for the unsent part of the response.
    var preambleStart: UInt32 = 0
    var preambleEnd: UInt32 = 0
    /// HTTP services: a response too large for the chunk lives here until sent (metrics).
    var heapResponse: UnsafeMutableRawPointer? = nil
    /// HTTP services: bytes of the request being answered, and whether to close afterwards.
    var requestLength: UInt32 = 0
    var closeAfterResponse = false
    /// HTTP services: when the request being read must be complete (coarse ms), 0 while none is.
    var requestDeadline: UInt64 = 0
    /// HTTP services: length of the PROXY notes text kept in the chunk.
    var notesLength: UInt16 = 0

    /// The upstream being tried: a target of the service and one of its addresses, and how
    /// many targets were tried (each once, its addresses in order).
    var target: UInt32 = 0
    var targetAddress: UInt32 = 0
    var targetsTried: UInt32 = 0
    var connectTimedOut = false

    /// The socket peer, and the client a trusted PROXY header named (nil: none or LOCAL).
    var peer: IPEndpoint? = nil
    var proxiedClient: IPEndpoint? = nil
    var proxiedDestination: IPEndpoint? = nil
    /// The PROXY version received (0 when none).
    var receivedProxyVersion: UInt8 = 0
    /// Per-connection id (PROXY v2 UNIQUE_ID, logs).
    var id: UInt64 = 0

    var openedAt: UInt64 = 0
    /// Coarse clock (ms) of the last byte moved; the idle timer compares against it.
    var lastActivity: UInt64 = 0

    /// Timer wheel membership: bucket (-1: none), neighbours, deadline (ms).
    var timerBucket: Int32 = -1
    var timerNext: Int32 = -1
    var timerPrevious: Int32 = -1
    var timerDeadline: UInt64 = 0

    var closeReason = CloseReason.finished
    /// The close watchdog already logged this connection.
    var closeStallLogged = false
    /// errno behind `closeReason` where one applies.
    var closeErrno: Int32 = 0

    /// The connection holds one of its service's places (counted in its active connections).
    var holdsServicePlace = false
    /// While queued: neighbours in the worker's queue for its service.
    var queueNext: Int32 = -1
    var queuePrevious: Int32 = -1

    /// Slab free list.
    var nextFree: Int32 = -1

    /// The client as the world should see it: the PROXY source when one was accepted.
    var client: IPEndpoint? { proxiedClient ?? peer }
}

/// Why a connection ended; logged and counted.
enum CloseReason: UInt8, CaseIterable, Error {
    case finished
    case clientReset
    case upstreamReset
    case clientError
    case upstreamError
    case upstreamUnavailable
    case idleTimeout
    case proxyHeaderTimeout
    case proxyHeaderInvalid
    case proxyHeaderMissing
    case proxyHeaderUntrusted
    case noScratchMemory
    case badRequest
    case draining
    case peerUnknown
    case localAddressUnknown
    case proxyHeaderTooLarge
    case requestTimeout
    case internalError

    var message: String {
        switch self {
        case .finished: return "connection closed"
        case .clientReset: return "client reset the connection"
        case .upstreamReset: return "upstream reset the connection"
        case .clientError: return "client socket error"
        case .upstreamError: return "upstream socket error"
        case .upstreamUnavailable: return "no upstream could be reached"
        case .idleTimeout: return "idle timeout"
        case .proxyHeaderTimeout: return "PROXY header not complete before the timeout"
        case .proxyHeaderInvalid: return "invalid PROXY header"
        case .proxyHeaderMissing: return "PROXY header required but the client sent none"
        case .proxyHeaderUntrusted: return "PROXY header from an untrusted source"
        case .noScratchMemory: return "no header buffer free"
        case .badRequest: return "malformed request"
        case .draining: return "shutting down: drain deadline passed"
        case .peerUnknown: return "client address unreadable (it reset before it was served)"
        case .localAddressUnknown: return "local address of the client socket unreadable"
        case .proxyHeaderTooLarge: return "the PROXY header to send does not fit in 65551 bytes"
        case .requestTimeout: return "request not complete before the request timeout"
        case .internalError: return "internal error: unexpected event (see the error line before)"
        }
    }

    /// The level of the close line: ends that are part of normal operation are info, the rest
    /// warn (a client that reset before it was served is the client's business, not ours).
    var logLevel: LogLevel {
        switch self {
        case .finished, .idleTimeout, .draining, .peerUnknown: return .info
        case .clientReset, .upstreamReset, .clientError, .upstreamError, .upstreamUnavailable, .proxyHeaderTimeout,
            .proxyHeaderInvalid, .proxyHeaderMissing, .proxyHeaderUntrusted, .noScratchMemory, .badRequest,
            .localAddressUnknown, .proxyHeaderTooLarge, .requestTimeout, .internalError:
            return .warn
        }
    }

    /// Metric label.
    var name: String {
        switch self {
        case .finished: return "finished"
        case .clientReset: return "client_reset"
        case .upstreamReset: return "upstream_reset"
        case .clientError: return "client_error"
        case .upstreamError: return "upstream_error"
        case .upstreamUnavailable: return "upstream_unavailable"
        case .idleTimeout: return "idle_timeout"
        case .proxyHeaderTimeout: return "proxy_header_timeout"
        case .proxyHeaderInvalid: return "proxy_header_invalid"
        case .proxyHeaderMissing: return "proxy_header_missing"
        case .proxyHeaderUntrusted: return "proxy_header_untrusted"
        case .noScratchMemory: return "no_scratch_memory"
        case .badRequest: return "bad_request"
        case .draining: return "drain_deadline"
        case .peerUnknown: return "peer_unknown"
        case .localAddressUnknown: return "local_address_unknown"
        case .proxyHeaderTooLarge: return "proxy_header_too_large"
        case .requestTimeout: return "request_timeout"
        case .internalError: return "internal_error"
        }
    }
}
