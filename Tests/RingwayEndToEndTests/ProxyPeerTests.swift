import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Ringway as the client of real proxies: squid behind `-F http://...?proxyProtocol=1` (squid
/// requires the header and must log the client it carried), dante behind `-F socks5://`.
@Suite("Hops with squid and dante", .serialized)
struct ProxyPeerTests {
    static let squidMissing = (Peer.squid == nil || Peer.curl == nil) && !Peer.required
    static let danteMissing = (Peer.danted == nil || Peer.curl == nil) && !Peer.required

    /// Squid drops its privileges: its directory must be open to its user.
    static func openDirectory(_ peer: PeerProcess) {
        chmod(peer.directory.path, 0o777)
    }

    @Test(.disabled(if: squidMissing, "squid or curl is not installed (scripts/setup --peers installs them)"))
    func squidRequiringTheHeaderLogsTheRealClient() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (front, squidPort) = (try freePort(), try freePort())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-squid-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        chmod(directory.path, 0o777)
        defer { try? FileManager.default.removeItem(at: directory) }
        let squid = try PeerProcess(executable: Peer.squid ?? "/usr/sbin/squid", config: """
            http_port 127.0.0.1:\(squidPort) require-proxy-header
            acl loopback src 127.0.0.0/8
            proxy_protocol_access allow loopback
            http_access allow loopback
            http_access deny all
            cache deny all
            access_log stdio:\(directory.path)/access.log
            cache_log \(directory.path)/cache.log
            pid_filename \(directory.path)/squid.pid
            coredump_dir \(directory.path)
            shutdown_lifetime 0 seconds
            """, configName: "squid.conf") { ["-N", "-f", $0] }
        #expect(waitForListener(squidPort, seconds: 20), "squid did not start: \(squid.output)")
        // GOST's -F=URL spelling.
        let ringway = try RingwayProcess(["-L=127.0.0.1:\(front)", "-F=http://127.0.0.1:\(squidPort)?proxyProtocol=1"])
        #expect(ringway.waitUntilListening(services: 1))
        // Both an HTTP CONNECT client and a SOCKS5 client of Ringway go through squid.
        #expect(try curl("http://127.0.0.1:\(origin.port)/a", extra: ["-x", "http://127.0.0.1:\(front)"]) == "seen: GET /a HTTP/1.1\n")
        #expect(try curl("http://127.0.0.1:\(origin.port)/b", from: "127.0.0.6", extra: ["--socks5", "127.0.0.1:\(front)"])
                == "seen: GET /b HTTP/1.1\n")
        // Squid logs each tunnel when it ends, with the client address the PROXY header named.
        let log = directory.appendingPathComponent("access.log")
        let logged = becomesTrue(within: 10) {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.contains(" 127.0.0.5 ") && text.contains(" 127.0.0.6 ")
        }
        #expect(logged, "squid access.log: \((try? String(contentsOf: log, encoding: .utf8)) ?? "none")")
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(text.contains("CONNECT 127.0.0.1:\(origin.port)"), "\(text)")
    }

    @Test(.disabled(if: danteMissing, "danted or curl is not installed (scripts/setup --peers installs them)"))
    func danteAsASOCKS5Hop() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (front, tcpFront, dantePort) = (try freePort(), try freePort(), try freePort())
        // danted closes every descriptor it inherited, which Foundation's Process takes for an exit
        // and then waits for, blocking every later Process: a shell stays its parent instead.
        let danted = Peer.danted ?? "/usr/sbin/danted"
        let dante = try PeerProcess(executable: "/bin/sh", config: """
            logoutput: @DIR@/danted.log
            internal: 127.0.0.1 port = \(dantePort)
            external: 127.0.0.1
            clientmethod: none
            socksmethod: none
            user.privileged: root
            user.unprivileged: nobody
            client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
            socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }
            """, configName: "danted.conf") { ["-c", "\(danted) -f \($0) & echo $! > \($0).pid; wait $!"] }
        // The shell may not see SIGTERM (the runner's threads block it), so danted is stopped by pid.
        defer {
            let pidFile = dante.directory.appendingPathComponent("danted.conf.pid").path
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGKILL)
            }
        }
        ProxyPeerTests.openDirectory(dante)
        #expect(waitForListener(dantePort, seconds: 20), "danted did not start: \(dante.output)")
        let ringway = try RingwayProcess([
            "-L", "127.0.0.1:\(front)", "-L", "tcp://127.0.0.1:\(tcpFront)/localhost:\(origin.port)",
            "-F", "socks5://127.0.0.1:\(dantePort)",
        ])
        #expect(ringway.waitUntilListening(services: 2))
        #expect(try curl("http://localhost:\(origin.port)/c", extra: ["-x", "http://127.0.0.1:\(front)"]) == "seen: GET /c HTTP/1.1\n")
        #expect(try curl("http://127.0.0.1:\(tcpFront)/d") == "seen: GET /d HTTP/1.1\n")
        #expect(ringway.waitForLine(containing: [" <-> localhost:\(origin.port) via socks5://127.0.0.1:\(dantePort)"]) != nil)
    }
}
