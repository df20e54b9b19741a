/// SOCKS5 commands (RFC 1928 section 4).
@_spi(Fuzzing) public enum SOCKS5Command: Equatable, Sendable {
    case connect
    case bind
    case udpAssociate
    /// A command the RFC does not define; the caller answers `commandNotSupported`.
    case other(UInt8)

    init(_ byte: UInt8) {
        switch byte {
        case 0x01: self = .connect
        case 0x02: self = .bind
        case 0x03: self = .udpAssociate
        default: self = .other(byte)
        }
    }

    var byte: UInt8 {
        switch self {
        case .connect: return 0x01
        case .bind: return 0x02
        case .udpAssociate: return 0x03
        case .other(let byte): return byte
        }
    }
}

/// The client's request, `VER=5 CMD RSV=0 ATYP DST.ADDR DST.PORT`.
///
/// Any command parses, so that the caller can answer `commandNotSupported` for those it does not serve;
/// only a CONNECT must name a port other than 0 (BIND and UDP ASSOCIATE may send 0.0.0.0:0).
@_spi(Fuzzing) public struct SOCKS5Request: Equatable, Sendable {
    @_spi(Fuzzing) public var command: SOCKS5Command
    @_spi(Fuzzing) public var target: RequestedTarget

    @_spi(Fuzzing) public init(command: SOCKS5Command, target: RequestedTarget) {
        self.command = command
        self.target = target
    }

    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<Self, SOCKS5ReplyCode> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x05 else { return .invalid(reason: "not SOCKS version 5", reply: .generalFailure) }
        guard bytes.count >= 3 else { return .incomplete }
        guard bytes[2] == 0x00 else {
            return .invalid(reason: "SOCKS5 request with a reserved byte other than 0", reply: .generalFailure)
        }
        let command = SOCKS5Command(bytes[1])
        switch SOCKS5Address.parse(bytes, at: 3, checkName: true) {
        case .incomplete:
            return .incomplete
        case .unknownType:
            return .invalid(reason: "unknown SOCKS5 address type", reply: .addressTypeNotSupported)
        case .emptyName:
            return .invalid(reason: "empty host name", reply: .generalFailure)
        case .badName(let problem):
            // The name cannot be resolved: the honest answer is that the host is unreachable.
            return .invalid(reason: problem.reason, reply: .hostUnreachable)
        case .parsed(let host, let port, let end):
            if command == .connect && port == 0 {
                return .invalid(reason: "target port 0", reply: .generalFailure)
            }
            return .complete(
                SOCKS5Request(command: command, target: RequestedTarget(host: host, port: port)), consumed: end)
        }
    }
}
