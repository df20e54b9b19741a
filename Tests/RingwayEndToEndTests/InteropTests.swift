import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// PROXY headers between Ringway and real peers. The client always connects from 127.0.0.5, so
/// the address that must survive each hop is distinguishable from the hops' own (127.0.0.1).
@Suite("Interop with haproxy, nginx and curl", .serialized)
struct InteropTests {
    static let haproxyMissing = Peer.haproxy == nil
    static let nginxMissing = Peer.nginx == nil || Peer.curl == nil

    /// Where the peers must be there (scripts/test, CI), the tests below must not skip.
    @Test func peersArePresentWhereRequired() {
        guard Peer.required else { return }
        #expect(Peer.missing.isEmpty, "RINGWAY_REQUIRE_PEERS=1 but missing: \(Peer.missing.joined(separator: ", "))")
    }

    /// haproxy send-proxy(-v2) -> ringway (receives, re-sends v2) -> ringway whoami.
    @Test(.disabled(if: haproxyMissing, "haproxy is not installed (scripts/setup --peers installs it)"),
          arguments: ["send-proxy", "send-proxy-v2"])
    func haproxySendsAndRingwayReceives(option: String) throws {
        let (front, relayPort, whoamiPort) = (try freePort(), try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "-L", "tcp://127.0.0.1:\(relayPort)/127.0.0.1:\(whoamiPort)?proxyProtocol=1&trustedProxies=127.0.0.1/32&handler.proxyProtocol=2",
            "-L", "whoami://127.0.0.1:\(whoamiPort)?proxyProtocol=1&proxyProtocolPolicy=require",
        ])
        #expect(ringway.waitUntilListening(services: 2))
        let haproxy = try PeerProcess(executable: Peer.haproxy!, config: """
            global
              nbthread 1
            defaults
              mode tcp
              timeout connect 5s
              timeout client 10s
              timeout server 10s
            listen front
              bind 127.0.0.1:\(front)
              server ringway 127.0.0.1:\(relayPort) \(option)
            """, configName: "haproxy.cfg") { ["-f", $0, "-db"] }
        #expect(waitForListener(front), "haproxy did not start: \(haproxy.output)")
        let body = try curl("http://127.0.0.1:\(front)/through-haproxy")
        #expect(body.contains("client: 127.0.0.5:"), "\(body)")
        #expect(body.contains("proxy: v2 PROXY"), "the relay re-sent v2: \(body)")
        #expect(ringway.waitForLine(containing: ["\"service\":\"service-0\"", "\"client\":\"127.0.0.5:"]) != nil)
    }

    /// ringway handler.proxyProtocol=1|2 -> haproxy accept-proxy (mode http, answers with src).
    @Test(.disabled(if: haproxyMissing, "haproxy is not installed (scripts/setup --peers installs it)"),
          arguments: [1, 2])
    func ringwaySendsAndHaproxyReceives(version: Int) throws {
        let (front, back) = (try freePort(), try freePort())
        let haproxy = try PeerProcess(executable: Peer.haproxy!, config: """
            global
              nbthread 1
            defaults
              mode http
              timeout connect 5s
              timeout client 10s
              timeout server 10s
            frontend back
              bind 127.0.0.1:\(back) accept-proxy
              http-request return status 200 content-type text/plain lf-string "src=%[src]:%[src_port] dst=%[dst]:%[dst_port]\\n"
            """, configName: "haproxy.cfg") { ["-f", $0, "-db"] }
        #expect(waitForListener(back), "haproxy did not start: \(haproxy.output)")
        let ringway = try RingwayProcess(["-L", "tcp://127.0.0.1:\(front)/127.0.0.1:\(back)?handler.proxyProtocol=\(version)"])
        #expect(ringway.waitUntilListening(services: 1))
        let body = try curl("http://127.0.0.1:\(front)/")
        #expect(body.hasPrefix("src=127.0.0.5:"), "\(body)")
        #expect(body.contains("dst=127.0.0.1:\(front)"), "\(body)")
    }

    /// curl --haproxy-protocol -> ringway (receives v1, sends v1) -> nginx listen proxy_protocol.
    @Test(.disabled(if: nginxMissing, "nginx or curl is not installed (scripts/setup --peers installs them)"))
    func curlThroughRingwayToNginx() throws {
        let (front, back) = (try freePort(), try freePort())
        let nginx = try PeerProcess(executable: Peer.nginx!, config: """
            daemon off;
            master_process off;
            worker_processes 1;
            pid @DIR@/nginx.pid;
            error_log @DIR@/error.log;
            events { worker_connections 64; }
            http {
              access_log off;
              client_body_temp_path @DIR@/body;
              proxy_temp_path @DIR@/proxy;
              fastcgi_temp_path @DIR@/fastcgi;
              uwsgi_temp_path @DIR@/uwsgi;
              scgi_temp_path @DIR@/scgi;
              server {
                listen 127.0.0.1:\(back) proxy_protocol;
                location / { return 200 "proxy_protocol_addr=$proxy_protocol_addr:$proxy_protocol_port\\n"; }
              }
            }
            """, configName: "nginx.conf") { ["-p", FileManager.default.temporaryDirectory.path, "-c", $0] }
        #expect(waitForListener(back), "nginx did not start: \(nginx.output)")
        let ringway = try RingwayProcess([
            "-L", "tcp://127.0.0.1:\(front)/127.0.0.1:\(back)?proxyProtocol=1&proxyProtocolPolicy=require&handler.proxyProtocol=1",
        ])
        #expect(ringway.waitUntilListening(services: 1))
        let body = try curl("http://127.0.0.1:\(front)/", extra: ["--haproxy-protocol"])
        #expect(body.hasPrefix("proxy_protocol_addr=127.0.0.5:"), "\(body)")
        #expect(ringway.waitForLine(containing: ["\"client\":\"127.0.0.5:"]) != nil)
    }

    /// GOST's documented example: the second service logs the original client as `client`
    /// and the first hop as `remote`.
    @Test func gostsChainedExampleShowsTheOriginalClient() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let (first, second) = (try freePort(), try freePort())
        let ringway = try RingwayProcess([
            "-L", "tcp://127.0.0.1:\(first)/127.0.0.1:\(second)?handler.proxyProtocol=1",
            "-L", "tcp://127.0.0.1:\(second)/127.0.0.1:\(echo.port)?proxyProtocol=1",
        ])
        #expect(ringway.waitUntilListening(services: 2))
        let client = try Sockets.connect(port: first, from: .v4(.init(127, 0, 0, 5)))
        defer { close(client) }
        try Sockets.sendAll(client, "hello")
        shutdown(client, Int32(SHUT_WR))
        #expect(String(decoding: try Sockets.receiveAll(client), as: UTF8.self) == "hello")
        let line = try #require(ringway.waitForLine(containing: ["\"service\":\"service-1\"", " >< "]))
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect((fields["client"] as? String)?.hasPrefix("127.0.0.5:") == true, "\(line)")
        #expect((fields["remote"] as? String)?.hasPrefix("127.0.0.1:") == true, "\(line)")
    }
}
