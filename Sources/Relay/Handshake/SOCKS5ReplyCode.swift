#if canImport(Glibc)
    import Glibc
#endif

/// The REP field of a SOCKS5 reply (RFC 1928 section 6).
@_spi(Fuzzing) public enum SOCKS5ReplyCode: UInt8, Equatable, Sendable, CaseIterable {
    case succeeded = 0x00
    case generalFailure = 0x01
    case notAllowed = 0x02
    case networkUnreachable = 0x03
    case hostUnreachable = 0x04
    case connectionRefused = 0x05
    case ttlExpired = 0x06
    case commandNotSupported = 0x07
    case addressTypeNotSupported = 0x08

    /// The code that tells a client why the connect to its target failed. A timeout is reported as "TTL
    /// expired", the nearest the RFC has (and what other servers send); errors with no counterpart are
    /// general failures.
    @_spi(Fuzzing) public init(connectErrno: Int32) {
        switch connectErrno {
        case ECONNREFUSED: self = .connectionRefused
        case ENETUNREACH: self = .networkUnreachable
        case EHOSTUNREACH: self = .hostUnreachable
        case ETIMEDOUT, ECANCELED: self = .ttlExpired
        default: self = .generalFailure
        }
    }
}
