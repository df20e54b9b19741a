import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The README's Quick start: `scripts/run` without arguments starts a relay on 127.0.0.1:8080
/// that sends PROXY v2 to the built-in `whoami` on 127.0.0.1:8081, and `curl localhost:8080`
/// shows what `whoami` saw: `client:` is curl's address and port (carried over the hop by the
/// PROXY header), `remote:` the relay's own socket. The test takes the demo's `-L` URLs from
/// scripts/run itself and moves them to free ports (8080 and 8081 may be taken).
@Suite("README quick start")
struct QuickStartTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `-L "..."` arguments of the demo in scripts/run.
    static func demoURLs() throws -> [String] {
        let script = try String(contentsOf: root.appendingPathComponent("scripts/run"), encoding: .utf8)
        let demo = script.components(separatedBy: "if [[ $# -eq 0 ]]; then").dropFirst().first?
            .components(separatedBy: "\nfi").first ?? ""
        let pattern = try NSRegularExpression(pattern: #"-L "([^"]+)""#)
        return pattern.matches(in: demo, range: NSRange(demo.startIndex..., in: demo)).compactMap { match in
            Range(match.range(at: 1), in: demo).map { String(demo[$0]) }
        }
    }

    @Test func theDemoShowsTheClientCarriedOverTheHop() throws {
        let urls = try Self.demoURLs()
        #expect(urls.count == 2, "the demo's -L URLs in scripts/run: \(urls)")
        // What the README says the demo is.
        #expect(urls.first?.hasPrefix("tcp://127.0.0.1:8080/127.0.0.1:8081?") == true, "\(urls)")
        #expect(urls.first?.contains("handler.proxyProtocol=2") == true, "\(urls)")
        #expect(urls.last?.hasPrefix("whoami://127.0.0.1:8081") == true, "\(urls)")
        let (relay, whoami) = (try freePort(), try freePort())
        let arguments = urls.flatMap { url in
            ["-L", url.replacingOccurrences(of: ":8080", with: ":\(relay)").replacingOccurrences(of: ":8081", with: ":\(whoami)")]
        }
        let ringway = try RingwayProcess(arguments)
        #expect(ringway.waitUntilListening(services: 2, seconds: 5), "\(ringway.lines)")

        // curl localhost:8080, as a plain socket.
        let client = try Sockets.connect(port: relay, timeoutSeconds: 5)
        defer { close(client) }
        let clientPort = try Sockets.localPort(client)
        try Sockets.sendAll(client, "GET / HTTP/1.1\r\nHost: localhost:\(relay)\r\nUser-Agent: curl/8\r\nAccept: */*\r\nConnection: close\r\n\r\n")
        let response = String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        let body = response.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        let fields = Dictionary(body.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }, uniquingKeysWith: { first, _ in first })
        // client: curl's address and port, from the PROXY header.
        #expect(fields["client"] == "127.0.0.1:\(clientPort)", "\(body)")
        // remote: the relay's own socket toward whoami, not the client's.
        let remote = fields["remote"] ?? ""
        #expect(remote.hasPrefix("127.0.0.1:") && remote != "127.0.0.1:\(clientPort)", "\(body)")
        #expect(fields["local"] == "127.0.0.1:\(whoami)", "\(body)")
        #expect(fields["proxy"] == "v2 PROXY", "\(body)")
        #expect(fields["proxy-source"] == "127.0.0.1:\(clientPort)", "\(body)")
    }
}
