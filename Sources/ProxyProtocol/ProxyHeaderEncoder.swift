/// Writes PROXY headers.
///
/// v1: `.ipv4`/`.ipv6` addresses with command `.proxy` and transport `.stream` give a TCP4/TCP6
/// line (IPv6 in RFC 5952 hex groups, the spec's form); anything else (`.local`, `.unspecified`,
/// `.unix`, UDP) gives `PROXY UNKNOWN\r\n`. v1 cannot carry TLVs: they are ignored.
///
/// v2: LOCAL is the bare 16-byte header (family 0x00, length 0, no TLVs), as the spec asks
/// senders to present no address. PROXY with `.unspecified` addresses or transport is the same
/// with the PROXY command. Otherwise the address block is followed by `tlvs` in order.
/// Any CRC32C TLV in `tlvs` gets the correct checksum written into it (a stale one is never
/// useful); `appendingCRC32C` adds one at the end when `tlvs` has none.
///
/// Whatever the encoder writes, the detector accepts: TLVs are checked with the parser's rules.
public enum ProxyHeaderEncoder {
    /// The longest v1 line, CRLF included.
    public static let maximumV1Length = 107

    /// The number of bytes `encode` writes for `header`.
    public static func encodedLength(of header: ProxyHeader, appendingCRC32C: Bool) -> Int {
        switch header.version {
        case .v1:
            return withUnsafeTemporaryAllocation(byteCount: maximumV1Length, alignment: 1) { scratch in
                V1HeaderWriter.write(header, into: scratch)
            }
        case .v2:
            return V2HeaderWriter.Layout(header, appendingCRC32C: appendingCRC32C).totalLength
        }
    }

    /// Writes `header` into `buffer` from offset 0; returns the number of bytes written. Throws when
    /// the buffer is too small or the header cannot be encoded (a TLV value over 65535 bytes, a v2
    /// length over 65535, a TLV the parser would reject).
    public static func encode(
        _ header: ProxyHeader,
        appendingCRC32C: Bool = false,
        into buffer: UnsafeMutableRawBufferPointer
    ) throws(ProxyProtocolError) -> Int {
        switch header.version {
        case .v1:
            return try withUnsafeTemporaryAllocation(byteCount: maximumV1Length, alignment: 1) {
                (scratch) throws(ProxyProtocolError) -> Int in
                let length = V1HeaderWriter.write(header, into: scratch)
                guard buffer.count >= length else { throw .bufferTooSmall(required: length, available: buffer.count) }
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[0..<length]))
                return length
            }
        case .v2:
            let layout = V2HeaderWriter.Layout(header, appendingCRC32C: appendingCRC32C)
            try layout.validate(header)
            guard buffer.count >= layout.totalLength else {
                throw .bufferTooSmall(required: layout.totalLength, available: buffer.count)
            }
            V2HeaderWriter.write(header, layout: layout, into: buffer)
            return layout.totalLength
        }
    }

    /// `header` encoded into a new array; see `encode(_:appendingCRC32C:into:)`.
    public static func encode(
        _ header: ProxyHeader,
        appendingCRC32C: Bool = false
    ) throws(ProxyProtocolError) -> [UInt8] {
        let length = encodedLength(of: header, appendingCRC32C: appendingCRC32C)
        var failure: ProxyProtocolError?
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, initializedCount in
            do throws(ProxyProtocolError) {
                let output = UnsafeMutableRawBufferPointer(buffer)
                initializedCount = try encode(header, appendingCRC32C: appendingCRC32C, into: output)
            } catch {
                failure = error
                initializedCount = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}

/// The v1 text line.
enum V1HeaderWriter {
    /// Writes the line into `out` (at least 107 bytes); returns its length.
    static func write(_ header: ProxyHeader, into out: UnsafeMutableRawBufferPointer) -> Int {
        guard header.command == .proxy, header.transport == .stream else { return writeUnknown(into: out) }
        switch header.addresses {
        case .ipv4(let source, let destination, let sourcePort, let destinationPort):
            var position = writeASCII("PROXY TCP4 ", into: out, at: 0)
            position = source.writeText(into: out, at: position)
            position = writeASCII(" ", into: out, at: position)
            position = destination.writeText(into: out, at: position)
            return writePorts(sourcePort, destinationPort, into: out, at: position)
        case .ipv6(let source, let destination, let sourcePort, let destinationPort):
            var position = writeASCII("PROXY TCP6 ", into: out, at: 0)
            position = source.writeText(into: out, at: position)
            position = writeASCII(" ", into: out, at: position)
            position = destination.writeText(into: out, at: position)
            return writePorts(sourcePort, destinationPort, into: out, at: position)
        case .unspecified, .unix:
            return writeUnknown(into: out)
        }
    }

    private static func writeUnknown(into out: UnsafeMutableRawBufferPointer) -> Int {
        writeASCII("PROXY UNKNOWN\r\n", into: out, at: 0)
    }

    private static func writePorts(
        _ source: UInt16,
        _ destination: UInt16,
        into out: UnsafeMutableRawBufferPointer,
        at offset: Int
    ) -> Int {
        var position = writeASCII(" ", into: out, at: offset)
        position = writeDecimal(UInt32(source), into: out, at: position)
        position = writeASCII(" ", into: out, at: position)
        position = writeDecimal(UInt32(destination), into: out, at: position)
        return writeASCII("\r\n", into: out, at: position)
    }

    private static func writeASCII(
        _ text: StaticString,
        into out: UnsafeMutableRawBufferPointer,
        at offset: Int
    ) -> Int {
        let count = text.utf8CodeUnitCount
        UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + count)])
            .copyMemory(from: UnsafeRawBufferPointer(start: text.utf8Start, count: count))
        return offset + count
    }
}
