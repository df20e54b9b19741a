import Foundation
import Glibc
import ProxyProtocol
import RingwayTestSupport
import Testing

/// The listen forms the README lists, at run time: `0.0.0.0` is IPv4 only, an empty host and
/// `[::]` take both families, `[::1]` IPv6 only; port ranges make one service per port with one
/// target (N:1), one service with a target per port (1:N), or port i to target i (N:N).
@Suite("Listen forms", .serialized)
struct ListenFormTests {
    func answers(_ port: UInt16, over host: IPAddress) -> Bool {
        guard let client = try? Sockets.connect(port: port, host: host, timeoutSeconds: 2) else { return false }
        defer { close(client) }
        guard (try? Sockets.sendAll(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) != nil,
              let response = try? Sockets.receiveAll(client)
        else { return false }
        return String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 200 OK")
    }

    struct Form: CustomTestStringConvertible, Sendable {
        let host: String
        let ipv4: Bool
        let ipv6: Bool
        var testDescription: String { host.isEmpty ? "(empty host)" : host }
    }

    static let forms = [
        Form(host: "0.0.0.0", ipv4: true, ipv6: false), Form(host: "", ipv4: true, ipv6: true),
        Form(host: "[::]", ipv4: true, ipv6: true), Form(host: "[::1]", ipv4: false, ipv6: true),
        Form(host: "127.0.0.1", ipv4: true, ipv6: false),
    ]

    @Test(arguments: forms)
    func familiesServed(_ form: Form) throws {
        let port = try freePort()
        let ringway = try RingwayProcess(["--workers", "1", "-L", "whoami://\(form.host):\(port)"])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        #expect(answers(port, over: .v4(.loopback)) == form.ipv4, "IPv4")
        #expect(answers(port, over: .v6(.loopback)) == form.ipv6, "IPv6")
    }

    /// Upstreams on consecutive ports, each answering with its own port.
    func namedUpstreams(_ ports: [UInt16]) throws -> [ScriptedUpstream] {
        try ports.map { port in
            try ScriptedUpstream(port: port) { fd, _ in
                try? Sockets.sendAll(fd, String(port))
                close(fd)
            }
        }
    }

    func answer(_ port: UInt16) throws -> String {
        let client = try Sockets.connect(port: port)
        defer { close(client) }
        return String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
    }

    @Test func portRangesMapAsGOSTDoes() throws {
        let listen = try freePorts(3)
        let targets = try freePorts(3)
        let upstreams = try namedUpstreams(targets)
        defer { upstreams.forEach { $0.stop() } }
        let single = try freePort()
        let range = "\(listen[0])-\(listen[2])"
        let targetRange = "\(targets[0])-\(targets[2])"
        // N:1, three services to one target.
        do {
            let ringway = try RingwayProcess(["--workers", "1", "-L", "tcp://127.0.0.1:\(range)/127.0.0.1:\(targets[0])"])
            #expect(ringway.waitUntilListening(services: 3), "\(ringway.lines)")
            for port in listen { #expect(try answer(port) == String(targets[0])) }
            #expect(ringway.lines.contains { $0.contains("\"service\":\"service-2\"") })
        }
        // 1:N, one service, a target per port, round robin.
        do {
            let ringway = try RingwayProcess(["--workers", "1", "-L", "tcp://127.0.0.1:\(single)/127.0.0.1:\(targetRange)"])
            #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
            let seen = try (0..<3).map { _ in try answer(single) }
            #expect(seen == targets.map(String.init))
        }
        // N:N, port i to target i.
        do {
            let ringway = try RingwayProcess(["--workers", "1", "-L", "tcp://127.0.0.1:\(range)/127.0.0.1:\(targetRange)"])
            #expect(ringway.waitUntilListening(services: 3), "\(ringway.lines)")
            for (port, target) in zip(listen, targets) { #expect(try answer(port) == String(target)) }
        }
    }
}
