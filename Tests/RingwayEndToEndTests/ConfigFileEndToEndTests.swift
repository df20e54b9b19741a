import Foundation
import Glibc
import RingwayTestSupport
import Testing

private let curlMissing = Peer.curl == nil && !Peer.required

/// A fresh directory for one test's files, removed afterwards.
private final class TemporaryDirectory {
    let url: URL

    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }
}

/// `-C`, `-O`, `--check` and the default file search, against the binary; GOST's PROXY page's
/// YAML listings run as written (ports changed).
@Suite("Configuration files (ringway -C)", .serialized)
struct ConfigFileEndToEndTests {
    /// The page's forwarder listing: handler metadata sends a PROXY header to the node, here a
    /// `whoami` in a second process. (Added with `-L` to the same process it would be named
    /// `service-0` too, which GOST and Ringway both refuse: `aCommandLineServiceMayNotTakeAFilesName`.)
    @Test func gostsForwarderListingAsWritten() throws {
        let directory = try TemporaryDirectory("forwarder")
        let (front, whoami) = (try freePort(), try freePort())
        let file = try directory.write("gost.yaml", GOSTPageListings.forwardNode.ports([8080: front, 8000: whoami]))
        let node = try RingwayProcess(["-L", "whoami://127.0.0.1:\(whoami)?proxyProtocol=1"])
        #expect(node.waitUntilListening(services: 1))
        let ringway = try RingwayProcess(["-C", file, "--workers", "1"])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        let client = try Sockets.connect(port: front, from: .v4(.init(127, 0, 0, 5)))
        defer { close(client) }
        try Sockets.sendAll(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let answer = String(decoding: try Sockets.receiveAll(client), as: UTF8.self)
        #expect(answer.contains("client: 127.0.0.5:"), "\(answer)")
        #expect(ringway.waitForLine(containing: ["\"service\":\"service-0\"", "\"node\":\"target-0\"", " <-> "]) != nil)
    }

    @Test func aCommandLineServiceMayNotTakeAFilesName() throws {
        let directory = try TemporaryDirectory("names")
        let file = try directory.write("ringway.yaml", "services:\n- name: service-0\n  addr: :9\n  handler:\n    type: whoami\n")
        let clash = try runRingway(["-C", file, "-L", "whoami://:10", "--check"])
        #expect(clash.status == 2)
        #expect(clash.stderr.contains("the file also has a service named service-0"), "\(clash.stderr)")
        let renamed = try directory.write("renamed.yaml", "services:\n- name: web\n  addr: :9\n  handler:\n    type: whoami\n")
        let fine = try runRingway(["-C", renamed, "-L", "whoami://:10", "-O", "json"])
        #expect(fine.status == 0, "\(fine.stderr)")
        #expect(fine.stdout.contains("\"name\": \"service-0\""), "-L services are numbered from service-0, as in GOST")
    }

    /// The page's chain listing: an auto proxy whose hop (Ringway's own http node, requiring the
    /// header) gets a PROXY header first.
    @Test(.disabled(if: curlMissing, "curl is not installed (scripts/setup --peers installs it)"))
    func gostsChainListingAsWritten() throws {
        let origin = try requestLineOrigin()
        defer { origin.stop() }
        let (front, node) = (try freePort(), try freePort())
        let directory = try TemporaryDirectory("chain")
        let file = try directory.write("gost.yaml", GOSTPageListings.proxyNode.ports([8080: front, 8000: node]))
        let nodeProcess = try RingwayProcess(["-L", "http://127.0.0.1:\(node)?proxyProtocol=1&proxyProtocolPolicy=require"])
        #expect(nodeProcess.waitUntilListening(services: 1))
        let ringway = try RingwayProcess(["-C", file])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        #expect(try curl("http://localhost:\(origin.port)/n", extra: ["-x", "http://127.0.0.1:\(front)"]) == "seen: GET /n HTTP/1.1\n")
        #expect(nodeProcess.waitForLine(containing: ["\"client\":\"127.0.0.5:", " <-> 127.0.0.1:\(origin.port)"]) != nil)
    }

    @Test func checkModeSaysValidOrGivesTheFirstErrorWithItsPlace() throws {
        let directory = try TemporaryDirectory("check")
        let good = try directory.write("good.yaml", "services:\n- name: web\n  addr: 127.0.0.1:8080\n  handler:\n    type: tcp\n  forwarder:\n    nodes:\n    - name: app\n      addr: unresolvable.invalid:80\n")
        let result = try runRingway(["-C", good, "--check"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "ringway: configuration (\(good)) is valid: 1 service\n", "no name was looked up")
        // The page's listing with its tab.
        let tab = try directory.write("ringway.yaml", GOSTPageListings.receiveWithTab)
        let broken = try runRingway(["-C", tab, "--check"])
        #expect(broken.status == 2)
        #expect(broken.stderr == "ringway: \(tab):8:1: a tab indents this line; YAML allows only spaces for indentation\n")
        let unknown = try runRingway(["-C", "-", "--check"], input: "services:\n- name: a\n  addr: :1\n  bypass: x\n")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("ringway: stdin:4:3: services[0].bypass: "), "\(unknown.stderr)")
    }

    @Test func outputPrintsGOSTsOwnListingForItsCommandLine() throws {
        let result = try runRingway(["-L", ":8080", "-F", "http://:8000?proxyProtocol=1", "-O", "yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == GOSTPageListings.proxyNode)
        // What -O prints runs: JSON through standard input gives the same YAML again.
        let json = try runRingway(["-L", ":8080", "-F", "http://:8000?proxyProtocol=1", "-O", "json"])
        let again = try runRingway(["-C", "-", "-O", "yaml"], input: json.stdout)
        #expect(again.stdout == result.stdout, "\(again.stderr)")
    }

    @Test func withoutCOrLTheWorkingDirectorysFileIsRead() throws {
        let directory = try TemporaryDirectory("search")
        let empty = try runRingway(["--check"], directory: directory.url)
        let etcHasOne = ["ringway.yaml", "ringway.yml", "ringway.json"].contains {
            FileManager.default.fileExists(atPath: "/etc/ringway/\($0)")
        }
        if !etcHasOne {
            #expect(empty.status == 2)
            #expect(empty.stderr.contains("no service given"), "\(empty.stderr)")
        }
        _ = try directory.write("ringway.json", #"{"services": [{"name": "json", "addr": ":9", "handler": {"type": "whoami"}}]}"#)
        _ = try directory.write("ringway.yml", "services:\n- name: yml\n  addr: :9\n  handler:\n    type: whoami\n")
        let found = try runRingway(["--check"], directory: directory.url)
        #expect(found.status == 0, "\(found.stderr)")
        #expect(found.stdout == "ringway: configuration (./ringway.yml) is valid: 1 service\n", "ringway.yml comes before ringway.json")
    }
}

extension String {
    /// The listing with its `:PORT` addresses moved to free ports.
    func ports(_ moves: [Int: UInt16]) -> String {
        moves.reduce(self) { text, move in text.replacingOccurrences(of: ":\(move.key)\n", with: ":\(move.value)\n") }
    }
}
