import ProxyProtocol

/// Credentials Ringway presents to a proxy hop (`-F socks5://user:pass@host:port`), as bytes.
@_spi(Fuzzing) public struct ProxyCredentials: Equatable, Sendable {
    @_spi(Fuzzing) public var user: [UInt8]
    @_spi(Fuzzing) public var password: [UInt8]

    @_spi(Fuzzing) public init(user: [UInt8], password: [UInt8]) {
        self.user = user
        self.password = password
    }
}

/// Ringway's side of a SOCKS5 hop: the messages it writes and the answers it reads, in the order they are
/// exchanged.
@_spi(Fuzzing) public enum SOCKS5Client {
    /// `05 01 00`, or `05 02 00 02` when credentials are configured.
    @_spi(Fuzzing) public static func writeGreeting(offeringCredentials: Bool, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        var writer = ByteWriter(out)
        writer.byte(0x05)
        writer.byte(offeringCredentials ? 2 : 1)
        writer.byte(SOCKS5Method.noAuthentication.rawValue)
        if offeringCredentials { writer.byte(SOCKS5Method.usernamePassword.rawValue) }
        return writer.length
    }

    /// The proxy's `05 METHOD`: a method we offered, or invalid.
    @_spi(Fuzzing) public static func parseMethodSelection(_ bytes: UnsafeRawBufferPointer, offeredCredentials: Bool)
        -> HandshakeParse<SOCKS5Method, NoReply>
    {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x05 else { return .invalid(reason: "proxy does not answer SOCKS version 5", reply: NoReply()) }
        guard bytes.count >= 2 else { return .incomplete }
        switch bytes[1] {
        case SOCKS5Method.noAuthentication.rawValue:
            return .complete(.noAuthentication, consumed: 2)
        case SOCKS5Method.usernamePassword.rawValue where offeredCredentials:
            return .complete(.usernamePassword, consumed: 2)
        case SOCKS5Method.noAcceptable.rawValue:
            return .invalid(reason: "proxy accepts none of our authentication methods", reply: NoReply())
        default:
            return .invalid(reason: "proxy chose an authentication method we did not offer", reply: NoReply())
        }
    }

    /// RFC 1929 `01 ULEN UNAME PLEN PASSWD`; nil when a field is empty or longer than 255 bytes, or `out`
    /// is too small.
    @_spi(Fuzzing) public static func writeCredentials(_ credentials: ProxyCredentials, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        let user = credentials.user
        let password = credentials.password
        guard (1...255).contains(user.count), (1...255).contains(password.count) else { return nil }
        var writer = ByteWriter(out)
        writer.byte(0x01)
        writer.byte(UInt8(user.count))
        user.withUnsafeBytes { writer.bytes($0) }
        writer.byte(UInt8(password.count))
        password.withUnsafeBytes { writer.bytes($0) }
        return writer.length
    }

    /// The proxy's `01 STATUS`: complete only on success (status 0).
    @_spi(Fuzzing) public static func parseAuthenticationStatus(_ bytes: UnsafeRawBufferPointer)
        -> HandshakeParse<SOCKS5UserPassword.Status, NoReply>
    {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x01 else {
            return .invalid(reason: "proxy does not answer username/password version 1", reply: NoReply())
        }
        guard bytes.count >= 2 else { return .incomplete }
        guard bytes[1] == 0x00 else { return .invalid(reason: "proxy refused our credentials", reply: NoReply()) }
        return .complete(.success, consumed: 2)
    }

    /// `05 01 00 ATYP DST.ADDR DST.PORT`; a name is copied from `names` (the range of `.name`) and must be 1
    /// to 255 bytes. nil when it is not, or `out` is too small.
    @_spi(Fuzzing) public static func writeConnect(
        to target: RequestedTarget,
        names: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var writer = ByteWriter(out)
        writer.byte(0x05)
        writer.byte(SOCKS5Command.connect.byte)
        writer.byte(0x00)
        SOCKS5Address.write(target.host, port: target.port, names: names, into: &writer)
        return writer.length
    }

    /// The proxy's reply `05 REP 00 ATYP BND.ADDR BND.PORT`, complete for any REP (the caller looks at the
    /// code); its length depends on ATYP. A bound name is not checked: it is skipped, never used.
    @_spi(Fuzzing) public static func parseReply(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<ServerReply, NoReply> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x05 else { return .invalid(reason: "proxy does not answer SOCKS version 5", reply: NoReply()) }
        guard bytes.count >= 3 else { return .incomplete }
        guard bytes[2] == 0x00 else {
            return .invalid(reason: "SOCKS5 reply with a reserved byte other than 0", reply: NoReply())
        }
        switch SOCKS5Address.parse(bytes, at: 3, checkName: false) {
        case .incomplete:
            return .incomplete
        case .unknownType:
            return .invalid(reason: "unknown SOCKS5 address type in the reply", reply: NoReply())
        case .emptyName, .badName:
            return .invalid(reason: "empty bound name in the SOCKS5 reply", reply: NoReply())
        case .parsed(let host, let port, let end):
            return .complete(ServerReply(code: bytes[1], boundHost: host, boundPort: port), consumed: end)
        }
    }

    @_spi(Fuzzing) public struct ServerReply: Equatable, Sendable {
        /// REP as sent: codes past 8 are possible from other servers.
        @_spi(Fuzzing) public var code: UInt8
        @_spi(Fuzzing) public var boundHost: RequestedHost
        @_spi(Fuzzing) public var boundPort: UInt16

        @_spi(Fuzzing) public init(code: UInt8, boundHost: RequestedHost, boundPort: UInt16) {
            self.code = code
            self.boundHost = boundHost
            self.boundPort = boundPort
        }

        @_spi(Fuzzing) public var replyCode: SOCKS5ReplyCode? { SOCKS5ReplyCode(rawValue: code) }
        @_spi(Fuzzing) public var succeeded: Bool { code == SOCKS5ReplyCode.succeeded.rawValue }
    }
}
