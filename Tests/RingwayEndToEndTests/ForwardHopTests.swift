import Foundation
import Glibc
import ProxyProtocol
import RingwayTestSupport
import Testing

/// `-F forward://` at run time: every tcp:// service's connections go to the node, GOST's `/:0`
/// placeholder and a service without targets both work, and the node's `proxyProtocol` sends it
/// a header naming the real client and the service's own address.
@Suite("-F forward node", .serialized)
struct ForwardHopTests {
    /// Records what arrives (decoded independently), then echoes the payload.
    func recordingNode() throws -> ScriptedUpstream {
        try ScriptedUpstream { fd, upstream in
            var received: [UInt8] = []
            while true {
                let (bytes, code) = Sockets.receiveOnce(fd)
                if code != 0 || bytes.isEmpty { break }
                received += bytes
            }
            let header = IndependentProxyDecoder.decode(received)
            let payload = Array(received[(header?.length ?? 0)...])
            upstream.note("source=\(header?.source ?? "-") destination=\(header?.destination ?? "-") payload="
                + String(decoding: payload, as: UTF8.self))
            try? Sockets.sendAll(fd, payload)
            close(fd)
        }
    }

    func exchange(port: UInt16, _ text: String) throws -> String {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        try Sockets.sendAll(client, text)
        shutdown(client, Int32(SHUT_WR))
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    @Test(arguments: ["tcp://127.0.0.1:PORT/:0", "tcp://127.0.0.1:PORT"])
    func everyConnectionGoesToTheNode(_ form: String) throws {
        let node = try recordingNode()
        defer { node.stop() }
        let port = try freePort()
        let service = form.replacingOccurrences(of: "PORT", with: String(port))
        let ringway = try RingwayProcess(["-L", service, "-F", "forward://127.0.0.1:\(node.port)"])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        #expect(try exchange(port: port, "via node") == "via node")
        #expect(node.waitForNote { $0.hasSuffix("payload=via node") }?.hasPrefix("source=- ") == true, "\(node.recorded)")
        #expect(!ringway.lines.contains { $0.contains("its targets are ignored") })
    }

    @Test func theNodesProxyProtocolNamesTheClientAndTheService() throws {
        let node = try recordingNode()
        defer { node.stop() }
        let port = try freePort()
        let ringway = try RingwayProcess([
            "-L", "tcp://127.0.0.1:\(port)/10.9.9.9:80", "-F", "forward://127.0.0.1:\(node.port)?proxyProtocol=2",
        ])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        // The service's own target is replaced by the node, as in GOST, and that is said.
        #expect(ringway.waitForLine(containing: ["\"level\":\"warn\"", "its targets are ignored"]) != nil)
        let client = try Sockets.connect(port: port, from: .v4(IPv4Address(127, 0, 0, 7)))
        defer { close(client) }
        let local = try Sockets.localPort(client)
        try Sockets.sendAll(client, "hello")
        shutdown(client, Int32(SHUT_WR))
        #expect(String(decoding: try Sockets.receiveAll(client), as: UTF8.self) == "hello")
        let note = node.waitForNote { $0.hasSuffix("payload=hello") }
        #expect(note == "source=127.0.0.7:\(local) destination=127.0.0.1:\(port) payload=hello", "\(node.recorded)")
    }
}
