import ProxyProtocol

/// Layout of an HTTP service's scratch chunk: response, PROXY notes, then the request.
enum HTTPResponder {
    static let responseCapacity = 4096
    static let notesCapacity = 2048
    static let requestCapacity = 8192
}

/// The text `whoami` answers with. Pure functions of what the connection saw.
enum WhoamiText {
    /// What the received PROXY header said, kept for every response on the connection.
    static func notes(header: ProxyHeader?, receiving: Bool) -> [UInt8] {
        var text: String
        if let header {
            text = "proxy: v\(header.version.rawValue) \(header.command == .local ? "LOCAL" : "PROXY")\n"
            if let source = header.source { text += "proxy-source: \(source)\n" }
            if let destination = header.destination { text += "proxy-destination: \(destination)\n" }
            for tlv in header.tlvs {
                text += "tlv: \(tlvName(tlv.type)) (0x\(hex([tlv.type]))) \(tlv.value.count) bytes: \(tlvText(tlv))\n"
            }
        } else {
            text = receiving ? "proxy: none\n" : "proxy: not accepted on this service\n"
        }
        var bytes = Array(text.utf8.prefix(HTTPResponder.notesCapacity))
        if text.utf8.count > HTTPResponder.notesCapacity {
            bytes.replaceSubrange((bytes.count - 4)..., with: Array("...\n".utf8))
        }
        return bytes
    }

    static func body(
        client: IPEndpoint?, remote: IPEndpoint?, local: IPEndpoint?, service: String, notes: UnsafeRawBufferPointer,
        head: HTTPRequestHead
    ) -> String {
        var body = "client: \(client.map(\.description) ?? "unknown")\n"
        body += "remote: \(remote.map(\.description) ?? "unknown")\n"
        if let local { body += "local: \(local)\n" }
        body += "service: \(service)\n"
        body += String(decoding: notes, as: UTF8.self)
        body += "request: \(head.method) \(head.path) \(head.version)\n"
        return body
    }

    static func tlvName(_ type: UInt8) -> String {
        switch type {
        case ProxyTLV.alpn: return "ALPN"
        case ProxyTLV.authority: return "AUTHORITY"
        case ProxyTLV.crc32c: return "CRC32C"
        case ProxyTLV.noop: return "NOOP"
        case ProxyTLV.uniqueID: return "UNIQUE_ID"
        case ProxyTLV.ssl: return "SSL"
        case ProxyTLV.netns: return "NETNS"
        default: return "TYPE"
        }
    }

    /// Printable values as text, anything else as hex.
    static func tlvText(_ tlv: ProxyTLV) -> String {
        let printable = !tlv.value.isEmpty && tlv.value.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        if printable && tlv.type != ProxyTLV.uniqueID && tlv.type != ProxyTLV.crc32c {
            return String(decoding: tlv.value, as: UTF8.self)
        }
        return hex(tlv.value)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: text, as: UTF8.self)
}
