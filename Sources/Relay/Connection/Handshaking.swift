import ProxyProtocol
import Uring

/// Payloads of the phases of a proxy service (`auto`, `http`, `socks5`, `socks4`): reading the
/// client's request, resolving the name it asked for, and replying.
///
/// The scratch chunk of such a connection is laid out as
///
///     [reply area][candidate addresses][reserve: outgoing PROXY header, rewritten head][incoming]
///
/// so the reply to the client, the addresses being tried, the preamble sent upstream and the
/// client's bytes never overlap. Connections through `-F` proxy hops also have, after the
/// candidates, the destination the last hop is asked for and the area hop messages are built in
/// and hop answers read into.
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
    /// The destination the last hop is asked for: its name bytes (an address needs none).
    static var destinationOffset: Int { candidatesEnd }
    static let destinationCapacity = 256
    /// Hop messages (PROXY header, CONNECT with credentials, SOCKS) and hop answers.
    static var negotiationOffset: Int { destinationOffset + destinationCapacity }
    static let negotiationCapacity = 4096
    static var negotiationEnd: Int { negotiationOffset + negotiationCapacity }
    /// Room an origin-form head may need beyond the absolute-form head it replaces (an added
    /// `Host:` line for HTTP/1.0 clients).
    static let rewriteGrowth = 320
    /// A request head (HTTP) or SOCKS message sequence must fit in this many bytes.
    static let requestCapacity = 8192
}

/// What the last `-F` hop is asked to connect to: an address, or a name whose bytes are in the
/// chunk's destination area.
struct Destination {
    var address: IPAddress? = nil
    var nameLength: UInt16 = 0
    var port: UInt16 = 0
}

/// Talking to the `-F` hops, one at a time, over the upstream socket.
struct Negotiating {
    /// The hop being negotiated with (index into the service's chain).
    var hop: UInt8 = 0
    var step = NegotiationStep.httpConnect
    var request = ClientRequest.none
    var destination = Destination()
    /// The first send to the destination, laid out in the chunk as for a direct connect.
    var preamble = ByteRange()
    /// The unsent part of the message to the hop, in the negotiation area.
    var unsent = ByteRange()
    /// Bytes of the hop's answer received into the negotiation area.
    var received: UInt32 = 0
}

/// Which answer of the hop the negotiation waits for.
enum NegotiationStep: UInt8 {
    case httpConnect
    case socks5Greeting
    case socks5Authentication
    case socks5Connect
    case socks4Connect
}
