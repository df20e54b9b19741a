import ProxyProtocol

/// `ATYP ADDR PORT`, the address form SOCKS5 requests and replies share (RFC 1928 sections 4 and 5).
enum SOCKS5Address {
    static let ipv4: UInt8 = 0x01
    static let domainName: UInt8 = 0x03
    static let ipv6: UInt8 = 0x04

    enum Outcome {
        case incomplete
        case unknownType
        case emptyName
        case badName(HostName.Problem)
        /// `end` is the offset just past the port.
        case parsed(host: RequestedHost, port: UInt16, end: Int)
    }

    /// Reads the address whose ATYP byte is at `offset`. A domain must be a valid name unless `checkName` is
    /// off (a server's bound name in a reply is never used, only skipped).
    static func parse(_ bytes: UnsafeRawBufferPointer, at offset: Int, checkName: Bool) -> Outcome {
        guard bytes.count > offset else { return .incomplete }
        let start = offset + 1
        let host: RequestedHost
        let portAt: Int
        switch bytes[offset] {
        case ipv4:
            portAt = start + 4
            guard bytes.count >= portAt + 2 else { return .incomplete }
            host = .address(.v4(IPv4Address(bytes[start], bytes[start + 1], bytes[start + 2], bytes[start + 3])))
        case ipv6:
            portAt = start + 16
            guard bytes.count >= portAt + 2 else { return .incomplete }
            var high: UInt64 = 0
            var low: UInt64 = 0
            for index in 0..<8 {
                high = high << 8 | UInt64(bytes[start + index])
                low = low << 8 | UInt64(bytes[start + 8 + index])
            }
            host = .address(.v6(IPv6Address(high: high, low: low)))
        case domainName:
            guard bytes.count > start else { return .incomplete }
            let length = Int(bytes[start])
            guard length > 0 else { return .emptyName }
            portAt = start + 1 + length
            // The name is judged as soon as it is all there, before the port arrives, and refused while still
            // arriving once it holds a byte no name may hold.
            guard bytes.count >= portAt else {
                if checkName, bytes.count > start + 1,
                    let problem = RequestedHost.prefixProblem(
                        UnsafeRawBufferPointer(rebasing: bytes[(start + 1)...]), allowIPv6: true)
                {
                    return .badName(problem)
                }
                return .incomplete
            }
            let text = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<portAt])
            if checkName {
                switch RequestedHost.fromText(text, offset: start + 1, allowIPv6: true) {
                case .success(let parsed): host = parsed
                case .failure(let problem): return .badName(problem)
                }
            } else {
                host = .name(start: start + 1, count: length)
            }
            guard bytes.count >= portAt + 2 else { return .incomplete }
        default:
            return .unknownType
        }
        let port = UInt16(bytes[portAt]) << 8 | UInt16(bytes[portAt + 1])
        return .parsed(host: host, port: port, end: portAt + 2)
    }

    /// `ATYP ADDR PORT` for a target; nil (overflowed) when a name is longer than 255 bytes or outside
    /// `names`.
    static func write(_ host: RequestedHost, port: UInt16, names: UnsafeRawBufferPointer, into writer: inout ByteWriter) {
        switch host {
        case .address(.v4(let v4)):
            writer.byte(ipv4)
            writer.addressBytes(.v4(v4))
        case .address(.v6(let v6)):
            writer.byte(ipv6)
            writer.addressBytes(.v6(v6))
        case .name(let start, let count):
            guard count >= 1, count <= HostName.maximumLength, start >= 0, count <= names.count - start else {
                writer.fail()
                return
            }
            writer.byte(domainName)
            writer.byte(UInt8(count))
            writer.bytes(UnsafeRawBufferPointer(rebasing: names[start..<(start + count)]))
        }
        writer.bigEndian16(port)
    }
}
