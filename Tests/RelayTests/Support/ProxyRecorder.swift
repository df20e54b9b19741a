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
            if let reply, case .header = ProxyHeaderDetector(maximumHeaderLength: ProxyHeaderDetector.maximumPossibleHeaderLength).detect(received) {
                try? Sockets.sendAll(fd, reply)
                shutdown(fd, Int32(SHUT_WR))
            }
        }
        upstream.note(describe(received, firstRead: first ?? []))
        close(fd)
    }
}

/// `source=… destination=… version=… tlvs=type:len,… payload=…` or `raw=…` without a header.
func describe(_ bytes: [UInt8], firstRead: [UInt8] = []) -> String {
    switch ProxyHeaderDetector(maximumHeaderLength: ProxyHeaderDetector.maximumPossibleHeaderLength).detect(bytes) {
    case .header(let header, let consumed):
        var text = "version=\(header.version.rawValue) command=\(header.command == .local ? "local" : "proxy")"
        text += " source=\(header.source.map(\.description) ?? "-") destination=\(header.destination.map(\.description) ?? "-")"
        text += " tlvs=" + header.tlvs.map { "\($0.type):\($0.value.count)" }.joined(separator: ",")
        text += " payload=" + String(decoding: bytes[consumed...], as: UTF8.self)
        text += " firstRead=\(firstRead.count == bytes.count ? "all" : String(firstRead.count))"
        return text
    case .invalid(let error):
        return "invalid=\(error.code.name)"
    default:
        return "raw=" + String(decoding: bytes, as: UTF8.self)
    }
}

/// A v1 header line for `source` -> `destination`.
func v1Line(_ source: String, _ destination: String, _ sourcePort: Int, _ destinationPort: Int) -> String {
    let family = source.contains(":") ? "TCP6" : "TCP4"
    return "PROXY \(family) \(source) \(destination) \(sourcePort) \(destinationPort)\r\n"
}
