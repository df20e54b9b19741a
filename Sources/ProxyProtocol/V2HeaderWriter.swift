/// The v2 binary header.
enum V2HeaderWriter {
    /// What a header will occupy, worked out once and shared by `encodedLength` and `encode`.
    struct Layout {
        /// True for the bare 16-byte form (LOCAL, or no address family).
        var isBare: Bool
        var addressLength: Int
        var tlvLength: Int
        /// True when a CRC32C TLV is added at the end.
        var appendsChecksum: Bool

        init(_ header: ProxyHeader, appendingCRC32C: Bool) {
            isBare = header.command == .local || header.transport == .unspecified || header.addresses == .unspecified
            guard !isBare else {
                addressLength = 0
                tlvLength = 0
                appendsChecksum = false
                return
            }
            addressLength = header.addresses.v2AddressLength
            var tlvLength = 0
            var hasChecksum = false
            for tlv in header.tlvs {
                tlvLength += V2Layout.tlvHeaderLength + tlv.value.count
                hasChecksum = hasChecksum || tlv.type == ProxyTLV.crc32c
            }
            appendsChecksum = appendingCRC32C && !hasChecksum
            if appendsChecksum { tlvLength += V2Layout.tlvHeaderLength + 4 }
            self.tlvLength = tlvLength
        }

        var lengthField: Int { addressLength + tlvLength }
        var totalLength: Int { V2Layout.fixedLength + lengthField }

        /// Applies the parser's rules, so that nothing is written that a receiver would reject.
        func validate(_ header: ProxyHeader) throws(ProxyProtocolError) {
            guard !isBare else { return }
            var checksums = 0
            for tlv in header.tlvs {
                guard tlv.value.count <= Int(UInt16.max) else {
                    throw .tlvValueTooLong(type: tlv.type, length: tlv.value.count)
                }
                let failure = tlv.value.withUnsafeBytes { (value) -> ProxyProtocolError? in
                    do throws(ProxyProtocolError) {
                        try ProxyTLV.validate(type: tlv.type, value: value)
                        return nil
                    } catch {
                        return error
                    }
                }
                if let failure { throw failure }
                if tlv.type == ProxyTLV.crc32c { checksums += 1 }
            }
            guard checksums <= 1 else { throw .v2CRC32CDuplicate }
            guard lengthField <= Int(UInt16.max) else { throw .v2LengthOverflow(lengthField) }
        }
    }

    /// Writes a validated header into `out` (at least `layout.totalLength` bytes).
    static func write(_ header: ProxyHeader, layout: Layout, into out: UnsafeMutableRawBufferPointer) {
        ProxySignature.writeV2(into: out)
        out[12] = 0x20 | header.command.rawValue
        if layout.isBare {
            out[13] = 0x00
            out.storeBigEndian(UInt16(0), at: 14)
            return
        }
        out[13] = header.addresses.v2FamilyNibble << 4 | header.transport.rawValue
        out.storeBigEndian(UInt16(layout.lengthField), at: 14)

        var position = V2Layout.fixedLength
        switch header.addresses {
        case .ipv4(let source, let destination, let sourcePort, let destinationPort):
            out.storeBigEndian(source.value, at: position)
            out.storeBigEndian(destination.value, at: position + 4)
            out.storeBigEndian(sourcePort, at: position + 8)
            out.storeBigEndian(destinationPort, at: position + 10)
        case .ipv6(let source, let destination, let sourcePort, let destinationPort):
            out.storeBigEndian(source.high, at: position)
            out.storeBigEndian(source.low, at: position + 8)
            out.storeBigEndian(destination.high, at: position + 16)
            out.storeBigEndian(destination.low, at: position + 24)
            out.storeBigEndian(sourcePort, at: position + 32)
            out.storeBigEndian(destinationPort, at: position + 34)
        case .unix(let source, let destination):
            let pathLength = UnixSocketPath.byteCount
            source.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + pathLength)]).copyMemory(from: $0)
            }
            destination.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: out[(position + pathLength)..<(position + 2 * pathLength)])
                    .copyMemory(from: $0)
            }
        case .unspecified:
            break
        }
        position += layout.addressLength

        var checksumOffset: Int?
        for tlv in header.tlvs {
            position = writeTLVHeader(type: tlv.type, length: tlv.value.count, into: out, at: position)
            if tlv.type == ProxyTLV.crc32c {
                // Zeros while the checksum is computed.
                checksumOffset = position
                out.storeBytes(of: UInt32(0), toByteOffset: position, as: UInt32.self)
            } else {
                tlv.value.withUnsafeBytes {
                    UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + $0.count)]).copyMemory(from: $0)
                }
            }
            position += tlv.value.count
        }
        if layout.appendsChecksum {
            position = writeTLVHeader(type: ProxyTLV.crc32c, length: 4, into: out, at: position)
            checksumOffset = position
            out.storeBytes(of: UInt32(0), toByteOffset: position, as: UInt32.self)
            position += 4
        }
        if let checksumOffset {
            let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: out[0..<position]))
            out.storeBigEndian(checksum, at: checksumOffset)
        }
    }

    private static func writeTLVHeader(
        type: UInt8,
        length: Int,
        into out: UnsafeMutableRawBufferPointer,
        at offset: Int
    ) -> Int {
        out[offset] = type
        out.storeBigEndian(UInt16(length), at: offset + 1)
        return offset + V2Layout.tlvHeaderLength
    }
}
