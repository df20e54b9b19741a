import HarnessSupport
@_spi(Fuzzing) import Relay

/// The HTTP forward-proxy request parser and the origin-form writer, on the bytes a client sends.
///
/// Never a crash. A complete head ends at the first CRLFCRLF and lies within the input, with its ranges
/// inside it; it is decided by its own bytes (alone, or followed by more, the same answer; one byte shorter,
/// incomplete). An invalid head has a reason and a 4xx reply, and stays invalid with the same reason when
/// more bytes follow. The origin form of an absolute-form request starts with the method and ` /`, ends with
/// the blank line, has a Host line, and has no line starting with `Proxy-` in any case; in a buffer too small
/// the writer says so instead of writing past it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = fuzzInput(data, size)
    let limit = 1024
    let parse = { (bytes: UnsafeRawBufferPointer) in HTTPProxyRequest.parse(bytes, maximumHeadLength: limit) }
    let result = parse(input)
    let context = ContextText { "input \(hex(input)), answer \(result)" }
    let more = withExactCopy(Array(input) + Array("X: y\r\n\r\n".utf8)) { parse($0) }

    switch result {
    case .incomplete:
        invariant(input.count < limit, "incomplete at the limit: \(context)")
    case .invalid(let reason, let reply):
        invariant(!reason.isEmpty, "invalid without a reason: \(context)")
        invariant(reply == .badRequest, "reply \(reply): \(context)")
        invariant(more == result, "more bytes turn invalid into \(more): \(context)")
    case .complete(let request, let consumed):
        invariant(consumed == request.headLength && consumed <= input.count && consumed <= limit, "consumed \(consumed): \(context)")
        invariant(firstBlankLine(input) == consumed, "the head does not end at the first CRLFCRLF: \(context)")
        var ranges = [request.method, request.pathAndQuery]
        if let auth = request.proxyAuthorization { ranges.append(auth) }
        if case .name(let start, let count) = request.target.host { ranges.append(start..<(start + count)) }
        for range in ranges {
            invariant(range.lowerBound >= 0 && range.upperBound <= consumed, "range \(range) outside the head: \(context)")
        }
        invariant(request.target.port != 0, "port 0: \(context)")
        invariant(more == result, "more bytes give \(more): \(context)")
        let alone = withExactCopy(input[0..<consumed]) { parse($0) }
        invariant(alone == result, "the head alone gives \(alone): \(context)")
        let short = withExactCopy(input[0..<(consumed - 1)]) { parse($0) }
        invariant(short == .incomplete, "one byte short gives \(short): \(context)")
        checkOriginForm(request, input)
    }
    return 0
}

func firstBlankLine(_ input: UnsafeRawBufferPointer) -> Int? {
    guard input.count >= 4 else { return nil }
    for index in 3..<input.count
    where input[index - 3] == 0x0D && input[index - 2] == 0x0A && input[index - 1] == 0x0D && input[index] == 0x0A {
        return index + 1
    }
    return nil
}

func checkOriginForm(_ request: HTTPProxyRequest, _ input: UnsafeRawBufferPointer) {
    // Exactly sized blocks: AddressSanitizer reports a write past the end.
    for capacity in [4096, Int(input.count % 97)] {
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
        defer { block.deallocate() }
        let out = UnsafeMutableRawBufferPointer(rebasing: block[0..<capacity])
        let length = request.writeOriginForm(head: input, into: out)
        if request.isConnect {
            invariant(length == nil, "origin form for CONNECT, input \(hex(input))")
            continue
        }
        guard let length else {
            invariant(capacity < 4096, "no origin form in 4096 bytes, input \(hex(input))")
            continue
        }
        let text = Array(out[0..<length])
        let context = ContextText { "input \(hex(input)), origin form \(hex(text))" }
        invariant(length <= capacity, "\(length) bytes in \(capacity): \(context)")
        let method = Array(input[request.method])
        invariant(text.starts(with: method + [0x20, 0x2F]), "does not start with the method and ' /': \(context)")
        invariant(text.count >= 4 && text.suffix(4).elementsEqual([0x0D, 0x0A, 0x0D, 0x0A]), "no blank line at the end: \(context)")
        var sawHost = false
        var lineStart = 0
        for index in 0..<text.count where index > 0 && text[index - 1] == 0x0D && text[index] == 0x0A {
            let line = text[lineStart..<(index - 1)]
            lineStart = index + 1
            let lower = line.prefix(6).map { $0 | 0x20 }
            invariant(!lower.elementsEqual(Array("proxy-".utf8)), "a Proxy- line: \(context)")
            if line.prefix(5).map({ $0 | 0x20 }).elementsEqual(Array("host:".utf8)) { sawHost = true }
        }
        invariant(sawHost, "no Host line: \(context)")
    }
}

@main
enum FuzzHTTPProxyRequestMain {
    static func main() { runLibFuzzer(fuzz) }
}
