import HarnessSupport
@_spi(Fuzzing) import Relay

/// The request-head parser of the built-in HTTP services (`whoami://`, `--metrics`), on the bytes a client
/// sends.
///
/// Never a crash. `incomplete` exactly when no CRLFCRLF has arrived. A complete head ends at the first
/// CRLFCRLF (`headLength` within the input), has a non-empty method and path, a version the parser
/// accepts (HTTP/1.0 or HTTP/1.1), `bodyLength >= 0`, and the answer depends on the head alone: the same
/// bytes cut after the head, or followed by more, give the same answer, and one byte fewer is incomplete.
/// An invalid head carries a reason (it becomes the body of the 400 response).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let result = HTTPRequestHead.parse(input)
    let context = { "input \(hex(input))" }

    // The reference: where the first CRLFCRLF ends.
    var headEnd: Int?
    if input.count >= 4 {
        for index in 3..<input.count
        where input[index - 3] == 0x0D && input[index - 2] == 0x0A && input[index - 1] == 0x0D && input[index] == 0x0A {
            headEnd = index + 1
            break
        }
    }

    switch result {
    case .incomplete:
        invariant(headEnd == nil, "incomplete, but a head ends at \(headEnd!): \(context())")
        return 0
    case .invalid(let reason):
        invariant(!reason.isEmpty, "invalid without a reason: \(context())")
        invariant(headEnd != nil, "invalid before the head ended: \(context())")
    case .complete(let head):
        invariant(
            head.headLength == headEnd,
            "head of \(head.headLength) bytes, the first CRLFCRLF ends at \(String(describing: headEnd)): \(context())")
        invariant(head.headLength <= input.count, "head of \(head.headLength) bytes in \(input.count): \(context())")
        invariant(head.bodyLength >= 0, "body of \(head.bodyLength) bytes: \(context())")
        invariant(!head.method.isEmpty && !head.path.isEmpty, "empty method or path: \(head): \(context())")
        invariant(head.version == "HTTP/1.1" || head.version == "HTTP/1.0", "version \(head.version): \(context())")
        // The request line is split at its spaces into exactly these three parts.
        invariant(
            !head.method.utf8.contains(0x20) && !head.path.utf8.contains(0x20),
            "a space inside the method \(head.method.debugDescription) or path \(head.path.debugDescription): "
                + context())
    }

    // Decided by the head alone.
    guard let end = headEnd else { return 0 }
    let alone = withExactCopy(input[0..<end]) { HTTPRequestHead.parse($0) }
    invariant(alone == result, "the head alone gives \(alone), with what follows \(result): \(context())")
    let short = withExactCopy(input[0..<(end - 1)]) { HTTPRequestHead.parse($0) }
    invariant(short == .incomplete, "one byte short of the head gives \(short): \(context())")
    let more = withExactCopy(Array(input) + Array("GET / HTTP/1.1\r\n\r\n".utf8)) { HTTPRequestHead.parse($0) }
    invariant(more == result, "followed by another request gives \(more), alone \(result): \(context())")
    return 0
}

@main
enum FuzzHTTPRequestHeadMain {
    static func main() { runLibFuzzer(fuzz) }
}
