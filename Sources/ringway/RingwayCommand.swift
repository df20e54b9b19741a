import ArgumentParser
import Relay
import RingwayConfig
import RingwayConfigFile

/// `ringway`: GOST's TCP-forwarding command line on an io_uring engine.
struct RingwayCommand: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "ringway",
        abstract: "An io_uring TCP relay that reads and writes PROXY protocol headers.",
        discussion: """
            SERVICES (-L, repeatable)
              tcp://[HOST]:PORT/TARGET:PORT[,TARGET:PORT...][?key=value&...]
                  forward every connection to a target (tried in turn when one fails)
              rtcp://[HOST]:PORT/TARGET:PORT[?key=value&...]
                  GOST's rtcp without a chain: a local tcp:// forward
              [auto://][USER:PASS@][HOST]:PORT[?key=value&...]
                  an HTTP, SOCKS5 and SOCKS4 proxy on one port (GOST's bare -L :PORT)
              http:// | socks5:// | socks4://[USER:PASS@][HOST]:PORT[?key=value&...]
                  a proxy speaking one protocol
              whoami://[HOST]:PORT[?key=value&...]
                  answer HTTP with the client address seen (diagnostics for PROXY chains)
              An empty HOST listens on every address; IPv6 literals go in brackets: [::1]:8080.

            HOPS (-F, repeatable)
              forward://HOST:PORT[,...]     every tcp:// connection to this node
              http:// | socks5:// | socks4://[USER:PASS@]HOST:PORT[?proxyProtocol=1|2]
                  a chain, in order; proxyProtocol writes a PROXY header to that hop first

            KEYS
              proxyProtocol=1|2               accept PROXY v1/v2 headers from clients
              proxyProtocolPolicy=optional|require
              trustedProxies=CIDR,...         only these sources may send a header
              proxyProtocolTimeout=DURATION   e.g. 500ms, 3s
              handler.proxyProtocol=1|2       send a PROXY header to every upstream
              handshakeTimeout=DURATION       proxy services: time to finish the request
              proxyProtocolTLV.uniqueId=true  (v2) add a per-connection UNIQUE_ID TLV
              proxyProtocolTLV.crc32c=true    (v2) add a CRC32C TLV
              proxyProtocolTLV.passthrough=true  (v2) forward the TLVs received
              See README.md for every key, its default, and the timeouts and limits.

            CONFIGURATION FILES
              -C FILE reads GOST v3's schema (services, chains, log, metrics) in YAML or JSON;
              -L/-F add services to it. Without -C and -L, ringway.yaml, ringway.yml or
              ringway.json is read from the working directory, then /etc/ringway/.
              -O yaml|json prints the resulting configuration; --check validates it and exits.
              SIGHUP reads the files again: unchanged services keep their sockets, changed ones
              apply to new connections, removed ones drain; a file that fails changes nothing.

            EXAMPLES
              ringway -C /etc/ringway/ringway.yaml --check
              ringway -L tcp://:8000/192.168.1.10:80
              ringway -L "tcp://:8000/:8080?handler.proxyProtocol=2" -L "whoami://:8080?proxyProtocol=1"
              ringway -L "tcp://:443/10.0.0.5:443?proxyProtocol=1&trustedProxies=10.0.0.0/8" --workers 4
              ringway -L ":8080?proxyProtocol=1"
              ringway -L :8080 -F "http://:8000?proxyProtocol=1"
            """,
        version: version
    )

    @Option(name: .customShort("L"), help: ArgumentHelp("A service URL (repeatable).", valueName: "url"))
    var services: [String] = []

    @Option(name: .customShort("F"), help: ArgumentHelp("A hop (repeatable): a forward node, or http/socks5/socks4 proxies chained in order.", valueName: "url"))
    var nodes: [String] = []

    @Option(name: .customShort("C"), help: ArgumentHelp(
        "A configuration file in GOST's schema, YAML or JSON ('-' reads standard input); -L and -F add to it. SIGHUP reads it again.",
        valueName: "file"))
    var configFile: String?

    @Option(name: .customShort("O"), help: ArgumentHelp(
        "Print the configuration the command line and files produce, as yaml or json, and exit.", valueName: "format"))
    var output: String?

    @Flag(name: .long, help: "Check the configuration (no name lookups, no sockets) and exit: 0 if valid, 2 with the first error.")
    var check = false

    @Option(name: .long, help: "Worker threads, each with its own io_uring (default: online CPUs).")
    var workers: Int?

    @Option(name: .long, help: "trace, debug, info, warn, error or fatal (default: the file's log.level, or info).")
    var logLevel: String?

    @Flag(name: .customShort("D"), help: "Debug logging (as --log-level debug).")
    var debug = false

    @Option(name: [.customLong("metrics"), .customLong("metrics", withSingleDash: true)],
            help: ArgumentHelp("Serve Prometheus metrics on [HOST]:PORT.", valueName: "addr"))
    var metrics: String?

    // Unconditional, so a value that starts with '-' reaches the duration check instead of being
    // taken for an option.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp(
        "After the first SIGTERM or SIGINT, how long open connections may finish (a second signal stops at once), and how long a service a reload removed may finish; a Go duration or seconds.", valueName: "duration"))
    var drainTimeout: String = "30s"

    @Option(name: .long, help: ArgumentHelp(
        "Replace Ringway without losing a client: at start, take over the listening sockets of the Ringway serving this Unix socket, then serve it for the next one (README, Zero-loss replacement).",
        valueName: "path"))
    var handoverSocket: String?

    @Option(name: .long, help: "Most receive buffers per worker (a power of two); 64 circulate at first, more as load needs them.")
    var buffers: Int = 1024

    @Option(name: .long, help: "Size of each receive buffer in bytes.")
    var bufferSize: Int = 512 * 1024

    @Option(name: .long, help: "Buffers one direction of a connection may hold before it stops reading.")
    var buffersPerDirection: Int = 2

    @Flag(name: .long, help: ArgumentHelp(
        "Receive with one request per read instead of one multishot receive per direction (for measuring).",
        visibility: .hidden))
    var singleShotReceive = false

    @Option(name: .long, help: ArgumentHelp(
        "Most memory all workers together may hold in receive buffers, e.g. 512MiB (default: a quarter of RAM, at most 1GiB).",
        valueName: "size"))
    var bufferMemory: String?

    /// `-O`'s format, once `validate()` has checked it.
    var outputFormat: ConfigFileFormat? { output.flatMap { ConfigFileFormat(rawValue: $0.lowercased()) } }

    func validate() throws {
        if let output, outputFormat == nil {
            throw ValidationError("-O \(output): expected yaml or json")
        }
        guard buffers > 0, buffers <= 32768, buffers & (buffers - 1) == 0 else {
            throw ValidationError("--buffers \(buffers): must be a power of two from 1 to 32768")
        }
        guard (1024...(4 << 20)).contains(bufferSize) else {
            throw ValidationError("--buffer-size \(bufferSize): must be between 1024 and 4194304 bytes")
        }
        guard (1...6).contains(buffersPerDirection) else {
            throw ValidationError("--buffers-per-direction \(buffersPerDirection): must be between 1 and 6")
        }
        if let handoverSocket, handoverSocket.isEmpty || handoverSocket.utf8.count > 90 {
            // A Unix socket path has room for 107 bytes, and the socket is bound beside it first.
            throw ValidationError("--handover-socket \(handoverSocket): expected a path of 1 to 90 bytes")
        }
        if let bufferMemory, ByteSize.parse(bufferMemory) == nil {
            throw ValidationError("--buffer-memory \(bufferMemory): expected a size such as 268435456, 512MiB or 1GiB")
        }
    }
}
