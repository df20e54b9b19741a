import HarnessSupport
@_spi(Fuzzing) import Relay

/// The SOCKS handshake parsers on both sides, and the CONNECT response parser of the HTTP client side, on
/// the same bytes.
///
/// Never a crash. A complete message lies within the input (`consumed` between 1 and the input's length),
/// its name ranges inside it, and it is decided by its own bytes: cut just after it, or followed by more,
/// the answer is the same, and one byte shorter it is incomplete. An invalid answer carries a reason and
/// stays the same when more bytes follow. A CONNECT the server parser accepts, written again by the client
/// writer, parses as the same target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    check("SOCKS5 greeting", input, SOCKS5Greeting.parse)
    check("SOCKS5 user/password", input, SOCKS5UserPassword.parse) { value in
        [value.user, value.password]
    }
    let request = check("SOCKS5 request", input, SOCKS5Request.parse) { value in nameRanges(value.target.host) }
    check("SOCKS4 request", input, SOCKS4Request.parse) { value in [value.userID] + nameRanges(value.target.host) }
    check("SOCKS5 method selection", input) { SOCKS5Client.parseMethodSelection($0, offeredCredentials: true) }
    check("SOCKS5 auth status", input, SOCKS5Client.parseAuthenticationStatus)
    check("SOCKS5 reply", input, SOCKS5Client.parseReply) { value in nameRanges(value.boundHost) }
    check("SOCKS4 reply", input, SOCKS4Client.parseReply)
    check("HTTP CONNECT response", input) { HTTPConnectClient.parseResponse($0, maximumHeadLength: 1024) }

    if case .complete(let parsed, _)? = request, parsed.command == .connect {
        roundTrip(parsed.target, input)
    }
    return 0
}

func nameRanges(_ host: RequestedHost) -> [Range<Int>] {
    guard case .name(let start, let count) = host else { return [] }
    return [start..<(start + count)]
}

/// The invariants every parser keeps; returns its answer on the whole input.
@discardableResult
func check<Value, Reply>(
    _ name: String,
    _ input: UnsafeRawBufferPointer,
    _ parse: (UnsafeRawBufferPointer) -> HandshakeParse<Value, Reply>,
    ranges: (Value) -> [Range<Int>] = { _ in [] }
) -> HandshakeParse<Value, Reply>? {
    let result = parse(input)
    let context = ContextText { "\(name): input \(hex(input)), answer \(result)" }
    let more = withExactCopy(Array(input) + [0x05, 0x00, 0x0D, 0x0A, 0x0D, 0x0A]) { parse($0) }
    switch result {
    case .incomplete:
        return result
    case .invalid(let reason, _):
        invariant(!reason.isEmpty, "invalid without a reason: \(context)")
        invariant(more == result, "more bytes turn invalid into \(more): \(context)")
    case .complete(let value, let consumed):
        invariant(consumed >= 1 && consumed <= input.count, "consumed \(consumed) of \(input.count): \(context)")
        for range in ranges(value) {
            invariant(range.lowerBound >= 0 && range.upperBound <= consumed, "range \(range) outside the message: \(context)")
        }
        invariant(more == result, "more bytes give \(more): \(context)")
        let alone = withExactCopy(input[0..<consumed]) { parse($0) }
        invariant(alone == result, "the message alone gives \(alone): \(context)")
        let short = withExactCopy(input[0..<(consumed - 1)]) { parse($0) }
        if case .incomplete = short {} else { invariant(false, "one byte short gives \(short): \(context)") }
    }
    return result
}

/// The client writer's CONNECT for a target the server parser accepted parses as the same target.
func roundTrip(_ target: RequestedTarget, _ input: UnsafeRawBufferPointer) {
    withUnsafeTemporaryAllocation(byteCount: 300, alignment: 1) { out in
        guard let length = SOCKS5Client.writeConnect(to: target, names: input, into: out) else {
            invariant(false, "no CONNECT written for \(target), input \(hex(input))")
            return
        }
        let again = SOCKS5Request.parse(UnsafeRawBufferPointer(rebasing: out[0..<length]))
        guard case .complete(let request, let consumed) = again, consumed == length else {
            invariant(false, "written CONNECT for \(target) parses as \(again), input \(hex(input))")
            return
        }
        invariant(request.target.port == target.port, "port \(request.target.port) for \(target)")
        switch (target.host, request.target.host) {
        case (.address(let a), .address(let b)):
            invariant(a == b, "address \(b) for \(a), input \(hex(input))")
        case (.name(let start, let count), .name(let start2, let count2)):
            invariant(
                input[start..<(start + count)].elementsEqual(out[start2..<(start2 + count2)]),
                "name changed in the round trip, input \(hex(input))")
        default:
            invariant(false, "host \(request.target.host) for \(target.host), input \(hex(input))")
        }
    }
}

@main
enum FuzzSOCKSMain {
    static func main() { runLibFuzzer(fuzz) }
}
