import ProxyProtocol

/// SOCKS4 commands.
@_spi(Fuzzing) public enum SOCKS4Command: Equatable, Sendable {
    case connect
    case bind
    /// Not defined by SOCKS4; the caller rejects it.
    case other(UInt8)

    init(_ byte: UInt8) {
        switch byte {
        case 0x01: self = .connect
        case 0x02: self = .bind
        default: self = .other(byte)
        }
    }
}

/// SOCKS4 reply codes (CD of the reply).
@_spi(Fuzzing) public enum SOCKS4ReplyCode: UInt8, Equatable, Sendable {
    case granted = 0x5A
    case rejected = 0x5B
}

/// A SOCKS4 request, `VN=4 CD DSTPORT DSTIP USERID 00`, or its SOCKS4a form with DSTIP 0.0.0.x (x ≠ 0)
/// followed by `DOMAIN 00`.
///
/// The user id and the domain end at a NUL, so a client could send them forever: each is bounded to 255
/// bytes, and more without a NUL is invalid rather than incomplete.
@_spi(Fuzzing) public struct SOCKS4Request: Equatable, Sendable {
    @_spi(Fuzzing) public var command: SOCKS4Command
    @_spi(Fuzzing) public var target: RequestedTarget
    /// The USERID bytes, without the NUL.
    @_spi(Fuzzing) public var userID: Range<Int>

    @_spi(Fuzzing) public init(command: SOCKS4Command, target: RequestedTarget, userID: Range<Int>) {
        self.command = command
        self.target = target
        self.userID = userID
    }

    @_spi(Fuzzing) public static let maximumFieldLength = 255

    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<Self, SOCKS4ReplyCode> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x04 else { return .invalid(reason: "not SOCKS version 4", reply: .rejected) }
        guard bytes.count >= 8 else { return .incomplete }
        let command = SOCKS4Command(bytes[1])
        let port = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        let address = IPv4Address(bytes[4], bytes[5], bytes[6], bytes[7])
        if command == .connect && port == 0 { return .invalid(reason: "target port 0", reply: .rejected) }

        guard let userEnd = nulTerminated(bytes, from: 8) else { return .incomplete }
        guard userEnd >= 0 else { return .invalid(reason: "SOCKS4 user id longer than 255 bytes", reply: .rejected) }
        let userID = 8..<userEnd

        // 0.0.0.x with x ≠ 0 is no address anyone means: SOCKS4a's sign that a domain follows.
        guard address.value >> 8 == 0, address.value != 0 else {
            return .complete(
                SOCKS4Request(command: command, target: RequestedTarget(host: .address(.v4(address)), port: port),
                    userID: userID),
                consumed: userEnd + 1)
        }
        let domainStart = userEnd + 1
        let domainEnd = nulTerminated(bytes, from: domainStart)
        if domainEnd == nil || domainEnd == -1 {
            // Still arriving (or too long): refused at the first byte no name may hold, the same answer
            // whenever the bytes after it come.
            let seen = min(bytes.count, domainStart + maximumFieldLength + 1)
            if let problem = RequestedHost.prefixProblem(
                UnsafeRawBufferPointer(rebasing: bytes[domainStart..<seen]), allowIPv6: true)
            {
                return .invalid(reason: problem.reason, reply: .rejected)
            }
        }
        guard let domainEnd else { return .incomplete }
        guard domainEnd >= 0 else { return .invalid(reason: "SOCKS4a domain longer than 255 bytes", reply: .rejected) }
        guard domainEnd > domainStart else { return .invalid(reason: "empty SOCKS4a domain", reply: .rejected) }
        let text = UnsafeRawBufferPointer(rebasing: bytes[domainStart..<domainEnd])
        switch RequestedHost.fromText(text, offset: domainStart, allowIPv6: true) {
        case .failure(let problem):
            return .invalid(reason: problem.reason, reply: .rejected)
        case .success(let host):
            return .complete(
                SOCKS4Request(command: command, target: RequestedTarget(host: host, port: port), userID: userID),
                consumed: domainEnd + 1)
        }
    }

    /// The offset of the NUL ending a field that starts at `start`; nil while it may still come, -1 when
    /// more than `maximumFieldLength` bytes arrived without one.
    private static func nulTerminated(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let limit = min(bytes.count, start + maximumFieldLength + 1)
        var index = start
        while index < limit {
            if bytes[index] == 0 { return index }
            index += 1
        }
        return bytes.count > start + maximumFieldLength ? -1 : nil
    }

    /// The 8-byte reply `VN=0 CD DSTPORT DSTIP`; the port and address are ignored by CONNECT clients and
    /// zero unless a BIND needs them. nil when `out` has fewer than 8 bytes.
    @_spi(Fuzzing) public static func writeReply(
        _ code: SOCKS4ReplyCode,
        port: UInt16 = 0,
        address: IPv4Address = .any,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var writer = ByteWriter(out)
        writer.byte(0x00)
        writer.byte(code.rawValue)
        writer.bigEndian16(port)
        writer.addressBytes(.v4(address))
        return writer.length
    }
}
