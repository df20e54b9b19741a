import Uring

/// Payloads of the phases of a proxy service (`auto`, `http`, `socks5`, `socks4`): reading the
/// client's request, resolving the name it asked for, and replying.
///
/// The scratch chunk of such a connection is laid out as
///
///     [reply area][candidate addresses][reserve: outgoing PROXY header, rewritten head][incoming]
///
/// so the reply to the client, the addresses being tried, the preamble sent upstream and the
/// client's bytes never overlap.
struct Handshaking {
    var step = HandshakeStep.choosing
    /// Bytes of the incoming area taken by earlier handshake messages (and a PROXY header).
    var consumed: UInt32 = 0
    /// A reply to the client is in flight: these bytes of the reply area are still unsent.
    var reply = ByteRange()
    /// Once the reply is out: close with this reason (an error reply); nil reads the next message.
    var closeAfterReply: CloseReason? = nil
}

/// Which client message the handshake is waiting for.
enum HandshakeStep: UInt8 {
    /// Nothing read yet: the first byte decides the protocol (auto) or is checked against it.
    case choosing
    case socks5Greeting
    case socks5Authentication
    case socks5Request
    case socks4Request
    case httpRequest
}

/// What the client asked for, kept until its upstream answers: the kind of success reply owed.
enum ClientRequest: UInt8 {
    /// A `tcp://` service: no request, the service's targets.
    case none
    /// HTTP CONNECT: `200 Connection established` once connected.
    case httpConnect
    /// HTTP absolute-form request: forwarded in origin form, no reply of ours.
    case httpForward
    case socks5
    case socks4
}

/// Waiting for the resolver to answer the name a client asked for.
struct Resolving {
    var request: ClientRequest
    var port: UInt16
    /// The first send upstream, already laid out (PROXY header, rewritten head, client bytes).
    var preamble: ByteRange
}

/// Where the regions of a proxy connection's scratch chunk lie.
enum ProxyScratchLayout {
    /// The longest reply sent to a client: HTTP error responses with their headers, SOCKS replies.
    static let replyCapacity = 512
    /// Addresses tried in order for a requested name; an answer with more is cut to this many.
    static let candidateCapacity = 16
    static let candidatesOffset = replyCapacity
    static var candidateStride: Int { MemoryLayout<SocketAddress>.stride }
    static var candidatesEnd: Int { candidatesOffset + candidateCapacity * candidateStride }
    /// Room an origin-form head may need beyond the absolute-form head it replaces (an added
    /// `Host:` line for HTTP/1.0 clients).
    static let rewriteGrowth = 320
    /// A request head (HTTP) or SOCKS message sequence must fit in this many bytes.
    static let requestCapacity = 8192
}
