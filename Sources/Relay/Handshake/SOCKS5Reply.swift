import ProxyProtocol

/// The server's reply to a request, `VER=5 REP RSV=0 ATYP BND.ADDR BND.PORT`.
@_spi(Fuzzing) public enum SOCKS5Reply {
    /// Writes the reply; the bound address is the relay's local end of the upstream connection, or
    /// 0.0.0.0:0 when there is none (failures) or it is unknown. Returns the length (10 or 22 bytes), or nil
    /// when `out` is too small.
    @_spi(Fuzzing) public static func write(
        _ code: SOCKS5ReplyCode,
        boundAddress: IPAddress = .v4(.any),
        boundPort: UInt16 = 0,
        into out: UnsafeMutableRawBufferPointer
    ) -> Int? {
        var writer = ByteWriter(out)
        writer.byte(0x05)
        writer.byte(code.rawValue)
        writer.byte(0x00)
        SOCKS5Address.write(.address(boundAddress), port: boundPort, names: UnsafeRawBufferPointer(start: nil, count: 0), into: &writer)
        return writer.length
    }
}
