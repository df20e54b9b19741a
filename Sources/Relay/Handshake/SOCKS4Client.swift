import ProxyProtocol

/// Ringway's side of a SOCKS4 hop.
@_spi(Fuzzing) public enum SOCKS4Client {
    /// `04 01 DSTPORT DSTIP 00` for an IPv4 target, or the SOCKS4a form `04 01 DSTPORT 0.0.0.1 00 NAME 00`
    /// for a name, which the proxy resolves. SOCKS4 has no IPv6 and an empty user id; nil for an IPv6
    /// target, a name outside `names` or longer than 255 bytes, or when `out` is too small.
    @_spi(Fuzzing) public static func writeConnect(
        to target: RequestedTarget,
        names: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var writer = ByteWriter(out)
        writer.byte(0x04)
        writer.byte(0x01)
        writer.bigEndian16(target.port)
        switch target.host {
        case .address(.v4(let v4)):
            writer.addressBytes(.v4(v4))
            writer.byte(0x00)
        case .address(.v6):
            return nil
        case .name(let start, let count):
            guard count >= 1, count <= SOCKS4Request.maximumFieldLength, start >= 0, count <= names.count - start
            else { return nil }
            writer.addressBytes(.v4(IPv4Address(0, 0, 0, 1)))
            writer.byte(0x00)
            writer.bytes(UnsafeRawBufferPointer(rebasing: names[start..<(start + count)]))
            writer.byte(0x00)
        }
        return writer.length
    }

    /// The proxy's 8-byte reply `VN CD DSTPORT DSTIP`: complete with the code for any CD (0x5A is granted).
    /// VN is 0 by the protocol; some servers echo 4, which is accepted.
    @_spi(Fuzzing) public static func parseReply(_ bytes: UnsafeRawBufferPointer) -> HandshakeParse<ServerReply, NoReply> {
        guard bytes.count >= 1 else { return .incomplete }
        guard bytes[0] == 0x00 || bytes[0] == 0x04 else {
            return .invalid(reason: "proxy does not answer SOCKS4", reply: NoReply())
        }
        guard bytes.count >= 8 else { return .incomplete }
        return .complete(ServerReply(code: bytes[1]), consumed: 8)
    }

    @_spi(Fuzzing) public struct ServerReply: Equatable, Sendable {
        @_spi(Fuzzing) public var code: UInt8
        @_spi(Fuzzing) public init(code: UInt8) { self.code = code }

        @_spi(Fuzzing) public var granted: Bool { code == SOCKS4ReplyCode.granted.rawValue }
    }
}
