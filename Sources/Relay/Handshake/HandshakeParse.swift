/// What a handshake parser says about the bytes received so far.
///
/// The connection keeps what arrived in a fixed scratch buffer and calls the parser again after each read,
/// always with every byte from the start of the message; so a parser is a pure function of its input and
/// needs no state of its own. `incomplete` is only for input that a longer valid message could start with:
/// once the bytes prove the message invalid the answer is `invalid`, and it stays the same when more bytes
/// follow, so a peer cannot keep a slot busy by trickling bytes that are already wrong.
///
/// `@_spi(Fuzzing) public` so that the fuzz targets in `Fuzz/` can reach the parsers; not API.
@_spi(Fuzzing) public enum HandshakeParse<Value: Equatable, Reply: Equatable>: Equatable {
    /// Every byte so far fits a valid message; call again when more arrive.
    case incomplete
    /// A whole message: its first `consumed` bytes. What follows belongs to the next message or the tunnel.
    case complete(Value, consumed: Int)
    /// The message cannot become valid. `reason` is for the log; `reply` is what the protocol says to send
    /// before closing.
    case invalid(reason: String, reply: Reply)
}

/// The reply of a parser that answers nothing: the client side of a hop just closes on a bad answer.
@_spi(Fuzzing) public struct NoReply: Equatable, Sendable {
    @_spi(Fuzzing) public init() {}
}
