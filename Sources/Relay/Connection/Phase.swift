import Uring

/// Where a connection is in its life. Each case carries what only that phase needs, as plain
/// data (the slab holds it without ARC); what every phase needs stays in `Connection` itself.
///
///     accepted ─┬─> detecting ─┬─> connecting ──────────────> relaying ─┐
///               │              ├─> handshaking ─┬─> resolving ─┐          │
///               │              │                └──────────────┴─> connecting
///               │              └─> serving ─────────────────────────────────┤
///               │   connecting ──> negotiating (-F proxy hops) ──> relaying ┤
///               ├─> connecting / handshaking / serving (no PROXY header)    ├─> closing ──> free
///               └─> queued (maxConnections) ─> accepted                     │
///     any phase ────────────────────────────────────────────────────────────┘
///
/// A proxy connection whose upstream failed goes back to handshaking to send its error reply.
enum Phase {
    /// The slot is empty.
    case free
    /// Taken by a new client; its first phase has not started yet.
    case accepted
    /// Accepted while its service was at maxConnections (another worker took the last place
    /// between our accept and now): held, untouched, until a place frees up.
    case queued
    /// Reading the client's first bytes until the PROXY detector decides.
    case detecting
    /// A proxy service reading the client's request (HTTP, SOCKS) or sending it a reply.
    case handshaking(Handshaking)
    /// Waiting for the resolver to answer the name the client asked for.
    case resolving(Resolving)
    /// An upstream connect is in flight.
    case connecting(Connecting)
    /// Connected to the first `-F` hop: PROXY headers, CONNECT and SOCKS exchanges, hop by hop.
    case negotiating(Negotiating)
    /// Both sockets open, bytes moving both ways.
    case relaying(Relaying)
    /// A built-in HTTP service (whoami, metrics) is reading requests and answering them.
    case serving(Serving)
    /// Requests are being cancelled; the slot is freed when the last completion arrives.
    case closing(Closing)

    var isLive: Bool {
        switch self {
        case .free, .closing: return false
        default: return true
        }
    }
}

/// Bytes `start ..< end` of the connection's scratch chunk (or of a heap response).
struct ByteRange {
    var start: UInt32 = 0
    var end: UInt32 = 0

    var isEmpty: Bool { start >= end }
    var count: Int { Int(end) - Int(start) }
}

struct Connecting {
    /// The upstream being tried: a target of the service, one of its addresses, and how many
    /// targets were tried (each once, its addresses in order).
    var target: UInt32 = 0
    var address: UInt32 = 0
    var targetsTried: UInt32 = 0
    /// The first send upstream, laid out in the scratch chunk: the outgoing PROXY header and the
    /// client bytes received so far.
    var preamble = ByteRange()
    /// A proxy service's client request (the reply it is owed), or `.none` for `tcp://`.
    var request = ClientRequest.none
    /// Requested targets: how many candidate addresses the scratch chunk holds (`address`
    /// indexes them), and the port asked for.
    var candidates: UInt8 = 0
    /// Every target was marked down when the connection started: try them all regardless.
    var ignoresHealth = false
    /// Through `-F` proxy hops: what the last hop is asked to connect to.
    var destination = Destination()
}

struct Relaying {
    /// Splice mode: one pipe per direction. Copy mode: nil.
    var pipes: Pipes?
}

struct Pipes {
    var inbound: (read: Descriptor, write: Descriptor)
    var outbound: (read: Descriptor, write: Descriptor)

    func of(_ side: Side) -> (read: Descriptor, write: Descriptor) { side == .inbound ? inbound : outbound }
}

struct Serving {
    /// Bytes of the request being answered (head and body), 0 while none is complete.
    var requestLength: UInt32 = 0
    /// When the request being read must be complete (coarse ms); 0 while none is being read.
    var requestDeadline: UInt64 = 0
    /// The unsent part of the response: in the scratch chunk, or in `heapResponse` when larger.
    var response = ByteRange()
    var heapResponse: UnsafeMutableRawPointer? = nil
    /// Once the response is out: close (with this reason) instead of reading the next request.
    var closeAfterResponse: CloseReason? = nil
    /// Length of the text about the received PROXY header, kept in the chunk for every response.
    var notesLength: UInt16 = 0
}

struct Closing {
    var reason: CloseReason
    var errno: Errno?
    /// Resources of the phase that ended, released with the slot.
    var pipes: Pipes?
    var heapResponse: UnsafeMutableRawPointer?
    /// The close watchdog already logged this connection.
    var stallLogged = false
}
