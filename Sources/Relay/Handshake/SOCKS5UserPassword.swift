/// The RFC 1929 username/password sub-negotiation: `VER=1 ULEN UNAME PLEN PASSWD`.
@_spi(Fuzzing) public struct SOCKS5UserPassword: Equatable, Sendable {
    /// Byte ranges of the input.
    @_spi(Fuzzing) public var user: Range<Int>
    @_spi(Fuzzing) public var password: Range<Int>

    @_spi(Fuzzing) public init(user: Range<Int>, password: Range<Int>) {
        self.user = user
        self.password = password
    }

    /// RFC 1929 status: 0 is success, anything else failure (and the server closes).
    @_spi(Fuzzing) public enum Status: UInt8, Equatable, Sendable {
        case success = 0x00
        case failure = 0x01
    }

    /// An invalid message is answered `01 01`. The RFC allows lengths from 1; empty names or passwords are
    /// refused here rather than compared.
    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<Self, Status> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x01 else {
            return .invalid(reason: "not username/password version 1", reply: .failure)
        }
        guard bytes.count >= 2 else { return .incomplete }
        let userLength = Int(bytes[1])
        guard userLength > 0 else { return .invalid(reason: "empty SOCKS5 username", reply: .failure) }
        let passwordLengthAt = 2 + userLength
        guard bytes.count > passwordLengthAt else { return .incomplete }
        let passwordLength = Int(bytes[passwordLengthAt])
        guard passwordLength > 0 else { return .invalid(reason: "empty SOCKS5 password", reply: .failure) }
        let end = passwordLengthAt + 1 + passwordLength
        guard bytes.count >= end else { return .incomplete }
        return .complete(
            SOCKS5UserPassword(user: 2..<passwordLengthAt, password: (passwordLengthAt + 1)..<end), consumed: end)
    }

    /// `01 STATUS`; nil when `out` has fewer than 2 bytes.
    @_spi(Fuzzing) public static func writeStatus(_ status: Status, into out: UnsafeMutableRawBufferPointer) -> Int? {
        var writer = ByteWriter(out)
        writer.byte(0x01)
        writer.byte(status.rawValue)
        return writer.length
    }
}
