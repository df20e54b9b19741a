/// Parses the v2 binary header from the bytes received so far. Each fixed byte is judged as soon
/// as it arrives; after the 16-byte prefix the answer is `needMore` in O(1) until the whole
/// header is there, which is then parsed once.
enum V2HeaderParser {
    /// `bytes` starts with the 12-byte signature (the detector matched it).
    static func parse(_ bytes: UnsafeRawBufferPointer, maximumHeaderLength: Int) -> ProxyDetection {
        do {
            return try parseHeader(bytes, maximumHeaderLength: maximumHeaderLength)
        } catch {
            return .invalid(error)
        }
    }

    /// The address block size a family byte needs; nil for bytes the spec does not define.
    static func addressLength(ofFamily family: UInt8) -> Int? {
        switch family {
        case 0x00: return 0
        case 0x11, 0x12: return V2Layout.ipv4AddressLength
        case 0x21, 0x22: return V2Layout.ipv6AddressLength
        case 0x31, 0x32: return V2Layout.unixAddressLength
        default: return nil
        }
    }

    @inline(__always)
    private static func parseHeader(
        _ bytes: UnsafeRawBufferPointer,
        maximumHeaderLength: Int
    ) throws(ProxyProtocolError) -> ProxyDetection {
        let signatureLength = ProxySignature.v2Length
        guard bytes.count > signatureLength else { return .needMore }
        let versionAndCommand = bytes[signatureLength]
        guard versionAndCommand >> 4 == 2 else { throw .v2BadVersion(versionAndCommand >> 4) }
        guard let command = ProxyCommand(rawValue: versionAndCommand & 0x0F) else {
            throw .v2BadCommand(versionAndCommand & 0x0F)
        }

        guard bytes.count > signatureLength + 1 else { return .needMore }
        let family = bytes[signatureLength + 1]
        // Checked for LOCAL too: the spec says receivers must reject undefined values.
        guard let requiredLength = addressLength(ofFamily: family) else { throw .v2BadFamily(family) }

        guard bytes.count >= V2Layout.fixedLength else { return .needMore }
        let length = Int(bytes.loadBigEndian(at: signatureLength + 2, as: UInt16.self))
        let total = V2Layout.fixedLength + length
        guard total <= maximumHeaderLength else { throw .v2HeaderTooLong(length: total, limit: maximumHeaderLength) }
        // LOCAL skips its block whatever it holds, so only PROXY needs room for its addresses.
        guard command == .local || length >= requiredLength else {
            throw .v2AddressBlockTooShort(family: family, length: length, required: requiredLength)
        }
        guard bytes.count >= total else { return .needMore }

        let header = UnsafeRawBufferPointer(rebasing: bytes[0..<total])
        if command == .local || family == 0x00 {
            let skipped = ProxyHeader(version: .v2, command: command, transport: .unspecified, addresses: .unspecified)
            return .header(skipped, consumed: total)
        }
        let addresses = readAddresses(header, family: family)
        let tlvs = try readTLVs(header, from: V2Layout.fixedLength + requiredLength)
        let transport: ProxyTransport = family & 0x0F == 1 ? .stream : .datagram
        let parsed = ProxyHeader(version: .v2, command: .proxy, transport: transport, addresses: addresses, tlvs: tlvs)
        return .header(parsed, consumed: total)
    }

    /// The address block of a header whose family byte was checked and whose length covers it.
    private static func readAddresses(_ header: UnsafeRawBufferPointer, family: UInt8) -> ProxyAddresses {
        let start = V2Layout.fixedLength
        switch family >> 4 {
        case 0x1:
            return .ipv4(
                source: IPv4Address(header.loadBigEndian(at: start, as: UInt32.self)),
                destination: IPv4Address(header.loadBigEndian(at: start + 4, as: UInt32.self)),
                sourcePort: header.loadBigEndian(at: start + 8, as: UInt16.self),
                destinationPort: header.loadBigEndian(at: start + 10, as: UInt16.self))
        case 0x2:
            return .ipv6(
                source: IPv6Address(
                    high: header.loadBigEndian(at: start, as: UInt64.self),
                    low: header.loadBigEndian(at: start + 8, as: UInt64.self)),
                destination: IPv6Address(
                    high: header.loadBigEndian(at: start + 16, as: UInt64.self),
                    low: header.loadBigEndian(at: start + 24, as: UInt64.self)),
                sourcePort: header.loadBigEndian(at: start + 32, as: UInt16.self),
                destinationPort: header.loadBigEndian(at: start + 34, as: UInt16.self))
        default:
            let pathLength = UnixSocketPath.byteCount
            return .unix(
                source: UnixSocketPath(copying: UnsafeRawBufferPointer(rebasing: header[start..<(start + pathLength)])),
                destination: UnixSocketPath(
                    copying: UnsafeRawBufferPointer(rebasing: header[(start + pathLength)..<(start + 2 * pathLength)])))
        }
    }

    /// Everything after the address block, as TLVs that must end exactly at the end of the
    /// header. A CRC32C TLV, if any, is verified over the whole header.
    private static func readTLVs(
        _ header: UnsafeRawBufferPointer,
        from start: Int
    ) throws(ProxyProtocolError) -> [ProxyTLV] {
        guard start < header.count else { return [] }
        // Count first, so the array is allocated once.
        var count = 0
        var counter = TLVReader(header, startingAt: start)
        while case .success? = counter.next() { count += 1 }
        var tlvs: [ProxyTLV] = []
        tlvs.reserveCapacity(count)
        var checksumOffset: Int?
        var reader = TLVReader(header, startingAt: start)
        while let next = reader.next() {
            let item: TLVReader.Item
            switch next {
            case .success(let found): item = found
            case .failure(let overrun): throw .v2TLVOverrun(offset: overrun.offset)
            }
            try ProxyTLV.validate(type: item.type, value: item.value)
            if item.type == ProxyTLV.crc32c {
                guard checksumOffset == nil else { throw .v2CRC32CDuplicate }
                checksumOffset = item.valueOffset
            }
            tlvs.append(ProxyTLV(type: item.type, value: Array(item.value)))
        }
        if let checksumOffset {
            let received = header.loadBigEndian(at: checksumOffset, as: UInt32.self)
            let computed = V2Checksum.compute(header, checksumOffset: checksumOffset)
            guard received == computed else { throw .v2CRC32CMismatch(received: received, computed: computed) }
        }
        return tlvs
    }
}

/// The CRC32C of a v2 header as the spec defines it: over the whole header with the 4 bytes of
/// the CRC32C value taken as zeros.
enum V2Checksum {
    static func compute(_ header: UnsafeRawBufferPointer, checksumOffset: Int) -> UInt32 {
        var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[0..<checksumOffset]))
        let zeros: UInt32 = 0
        crc = withUnsafeBytes(of: zeros) { CRC32C.checksum($0, initial: crc) }
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: header[(checksumOffset + 4)...]), initial: crc)
    }
}
