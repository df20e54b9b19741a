import RingwayConfig

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
    case handshakeInvalid
    case handshakeTimeout
    case authenticationFailed
    case commandNotSupported
    case nameUnresolved
    case targetForbidden
    case internalError
    /// A reload removed the connection's service and the drain timeout passed.
    case serviceRemoved

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
        case .serviceRemoved: return "its service was removed by a reload and the drain timeout passed"
        case .peerUnknown: return "client address unreadable (it reset before it was served)"
        case .localAddressUnknown: return "local address of the client socket unreadable"
        case .proxyHeaderTooLarge: return "the PROXY header to send does not fit in 65551 bytes"
        case .requestTimeout: return "request not complete before the request timeout"
        case .handshakeInvalid: return "malformed or refused proxy request"
        case .handshakeTimeout: return "proxy request not complete before the handshake timeout"
        case .authenticationFailed: return "proxy authentication failed"
        case .commandNotSupported: return "proxy command not supported"
        case .nameUnresolved: return "the requested host name does not resolve"
        case .targetForbidden: return "the requested target is this proxy itself or an unspecified address"
        case .internalError: return "internal error: unexpected event (see the error line before)"
        }
    }

    /// The level of the close line: ends that are part of normal operation are info, the rest
    /// warn (a client that reset before it was served is the client's business, not ours).
    var logLevel: LogLevel {
        switch self {
        case .finished, .idleTimeout, .draining, .peerUnknown, .serviceRemoved: return .info
        case .clientReset, .upstreamReset, .clientError, .upstreamError, .upstreamUnavailable, .proxyHeaderTimeout,
            .proxyHeaderInvalid, .proxyHeaderMissing, .proxyHeaderUntrusted, .noScratchMemory, .badRequest,
            .localAddressUnknown, .proxyHeaderTooLarge, .requestTimeout, .handshakeInvalid, .handshakeTimeout,
            .authenticationFailed, .commandNotSupported, .nameUnresolved, .targetForbidden, .internalError:
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
        case .serviceRemoved: return "service_removed"
        case .peerUnknown: return "peer_unknown"
        case .localAddressUnknown: return "local_address_unknown"
        case .proxyHeaderTooLarge: return "proxy_header_too_large"
        case .requestTimeout: return "request_timeout"
        case .handshakeInvalid: return "handshake_invalid"
        case .handshakeTimeout: return "handshake_timeout"
        case .authenticationFailed: return "auth_failed"
        case .commandNotSupported: return "command_not_supported"
        case .nameUnresolved: return "name_unresolved"
        case .targetForbidden: return "target_forbidden"
        case .internalError: return "internal_error"
        }
    }
}
