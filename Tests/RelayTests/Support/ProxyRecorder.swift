import Glibc
import ProxyProtocol
import RingwayTestSupport

/// An upstream that expects a PROXY header from the relay, parses it with the codec, and
/// notes what it saw: `source=… destination=… tlvs=… payload=…` once the client is done.
func proxyRecordingUpstream(replying reply: String? = nil) throws -> ScriptedUpstream {
    try ScriptedUpstream { fd, upstream in
        var received: [UInt8] = []
        var first: [UInt8]? = nil
        while true {
            let (bytes, code) = Sockets.receiveOnce(fd)
            if code != 0 || bytes.isEmpty { break }
            if first == nil { first = bytes }
            received += bytes
            if let reply, IndependentProxyDecoder.decode(received) != nil {
                try? Sockets.sendAll(fd, reply)
                shutdown(fd, Int32(SHUT_WR))
            }
        }
        upstream.note(describe(received, firstRead: first ?? []))
        close(fd)
    }
}

/// `version=… command=… source=… destination=… tlvs=type:len,… [unique=HEX] [authority=TEXT]
/// [crc=ok|bad] payload=… firstRead=…`, or `raw=…` without a header. Decoded by the test
/// support's independent decoder, never by the codec under test.
func describe(_ bytes: [UInt8], firstRead: [UInt8] = []) -> String {
    guard let header = IndependentProxyDecoder.decode(bytes) else {
        return "raw=" + String(decoding: bytes, as: UTF8.self)
    }
    var text = "version=\(header.version) command=\(header.command == "LOCAL" ? "local" : "proxy")"
    text += " source=\(header.source ?? "-") destination=\(header.destination ?? "-")"
    text += " tlvs=" + header.tlvs.map { "\($0.type):\($0.value.count)" }.joined(separator: ",")
    if let unique = header.tlv(0x05) { text += " unique=" + unique.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
    if let authority = header.tlv(0x02) { text += " authority=" + String(decoding: authority, as: UTF8.self) }
    if let valid = header.checksumValid { text += valid ? " crc=ok" : " crc=bad" }
    text += " payload=" + String(decoding: bytes[header.length...], as: UTF8.self)
    text += " firstRead=\(firstRead.count == bytes.count ? "all" : String(firstRead.count))"
    return text
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// A v1 header line for `source` -> `destination`.
func v1Line(_ source: String, _ destination: String, _ sourcePort: Int, _ destinationPort: Int) -> String {
    let family = source.contains(":") ? "TCP6" : "TCP4"
    return "PROXY \(family) \(source) \(destination) \(sourcePort) \(destinationPort)\r\n"
}
