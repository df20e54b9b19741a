/// SOCKS5 authentication methods (RFC 1928 section 3) that Ringway speaks.
@_spi(Fuzzing) public enum SOCKS5Method: UInt8, Equatable, Sendable {
    case noAuthentication = 0x00
    case usernamePassword = 0x02
    /// "NO ACCEPTABLE METHODS": the client must close.
    case noAcceptable = 0xFF
}

/// The client's first message, `VER=5 NMETHODS METHODS...`: which of our methods it offers.
@_spi(Fuzzing) public struct SOCKS5Greeting: Equatable, Sendable {
    @_spi(Fuzzing) public var offersNoAuthentication: Bool
    @_spi(Fuzzing) public var offersUsernamePassword: Bool

    @_spi(Fuzzing) public init(offersNoAuthentication: Bool, offersUsernamePassword: Bool) {
        self.offersNoAuthentication = offersNoAuthentication
        self.offersUsernamePassword = offersUsernamePassword
    }

    /// An invalid greeting is answered `05 FF`: no acceptable method.
    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<Self, SOCKS5Method> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x05 else { return .invalid(reason: "not SOCKS version 5", reply: .noAcceptable) }
        guard bytes.count >= 2 else { return .incomplete }
        let methods = Int(bytes[1])
        guard methods > 0 else { return .invalid(reason: "SOCKS5 greeting offers no method", reply: .noAcceptable) }
        guard bytes.count >= 2 + methods else { return .incomplete }
        var greeting = SOCKS5Greeting(offersNoAuthentication: false, offersUsernamePassword: false)
        for index in 2..<(2 + methods) {
            switch bytes[index] {
            case SOCKS5Method.noAuthentication.rawValue: greeting.offersNoAuthentication = true
            case SOCKS5Method.usernamePassword.rawValue: greeting.offersUsernamePassword = true
            default: break  // GSSAPI and private methods: not ours
            }
        }
        return .complete(greeting, consumed: 2 + methods)
    }

    /// The method to choose: username/password when credentials are configured, else no authentication;
    /// `noAcceptable` when the client did not offer it.
    @_spi(Fuzzing) public func select(requireCredentials: Bool) -> SOCKS5Method {
        if requireCredentials { return offersUsernamePassword ? .usernamePassword : .noAcceptable }
        return offersNoAuthentication ? .noAuthentication : .noAcceptable
    }

    /// `05 METHOD`; nil when `out` has fewer than 2 bytes.
    @_spi(Fuzzing) public static func writeSelection(_ method: SOCKS5Method, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        var writer = ByteWriter(out)
        writer.byte(0x05)
        writer.byte(method.rawValue)
        return writer.length
    }
}
