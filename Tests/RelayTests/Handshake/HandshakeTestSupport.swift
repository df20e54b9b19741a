@_spi(Fuzzing) import Relay
import ProxyProtocol
import Testing

/// Runs `parser` on a copy of `bytes` in a block of exactly that size.
func parsed<Result>(_ bytes: [UInt8], _ parser: (UnsafeRawBufferPointer) -> Result) -> Result {
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    defer { block.deallocate() }
    block.copyBytes(from: bytes)
    return parser(UnsafeRawBufferPointer(rebasing: block[0..<bytes.count]))
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Every strict prefix of a valid message is incomplete: the parser waits at each cut point.
func expectIncompleteAtEveryCut<Value, Reply>(
    _ message: [UInt8],
    _ parser: (UnsafeRawBufferPointer) -> HandshakeParse<Value, Reply>,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for cut in 0..<message.count {
        let result = parsed(Array(message[0..<cut]), parser)
        #expect(result == .incomplete, "cut at \(cut) of \(message.count)", sourceLocation: sourceLocation)
    }
}

/// The bytes a writer produced into a buffer of `capacity` bytes, or nil when it said they do not fit.
func written(capacity: Int = 1024, _ writer: (UnsafeMutableRawBufferPointer) -> Int?) -> [UInt8]? {
    let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
    defer { block.deallocate() }
    let out = UnsafeMutableRawBufferPointer(rebasing: block[0..<capacity])
    guard let length = writer(out) else { return nil }
    return Array(out[0..<length])
}

/// The reason of an invalid result, or nil.
func reason<Value, Reply>(_ result: HandshakeParse<Value, Reply>) -> String? {
    if case .invalid(let reason, _) = result { return reason }
    return nil
}

func reply<Value, Reply>(_ result: HandshakeParse<Value, Reply>) -> Reply? {
    if case .invalid(_, let reply) = result { return reply }
    return nil
}

func value<Value, Reply>(_ result: HandshakeParse<Value, Reply>) -> Value? {
    if case .complete(let value, _) = result { return value }
    return nil
}

/// The text of a name host in `input`, or nil for an address.
func nameText(_ host: RequestedHost, in input: [UInt8]) -> String? {
    guard case .name(let start, let count) = host else { return nil }
    return String(decoding: input[start..<(start + count)], as: UTF8.self)
}

func ipv4(_ text: String) -> RequestedHost {
    guard let address = IPv4Address(text) else { fatalError("bad test address \(text)") }
    return .address(.v4(address))
}

func ipv6(_ text: String) -> RequestedHost {
    guard let address = IPv6Address(text) else { fatalError("bad test address \(text)") }
    return .address(.v6(address))
}
