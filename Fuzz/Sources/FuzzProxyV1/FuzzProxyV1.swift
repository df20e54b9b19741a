import HarnessSupport
import ProxyProtocol

/// The v1 parser (V1HeaderParser, V1FieldValidators) on text lines. The parser is internal to
/// ProxyProtocol; the detector hands any input that starts with "PROXY" and has a sixth byte straight to
/// it, so the input here always starts with "PROXY" (prepended when the fuzz input lacks it) and every
/// byte the fuzzer chooses lands in the parser.
///
/// Checked against `ProxyReference.v1`, a whole-line reference parser: a complete line within 107 bytes
/// gives exactly the header the reference reads (addresses through the public IPv4/IPv6 text parsers,
/// which are independent of the parser's own field validators) or an error, a line still arriving gives
/// `needMore` or an early error, and 107 bytes without a CRLF are an error. An early error must hold for
/// every continuation: the same bytes followed by CRLF must not be a valid line, and the answer one byte
/// earlier must be `needMore` or the same. Accepted headers pass `ProxyChecks.checkAccepted`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    var input = ProxyReference.v1Signature
    input.append(contentsOf: bytes.starts(with: ProxyReference.v1Signature) ? bytes.dropFirst(5) : bytes[...])
    let detector = ProxyHeaderDetector()

    let answer = withExactCopy(input) { detector.detect($0) }
    let reference = input.count > 5 ? ProxyReference.v1(input) : .needMore
    ProxyChecks.agree(answer, with: reference, input: input)

    // One byte earlier the answer was still open, or the same.
    let earlier = withExactCopy(input.dropLast()) { detector.detect($0) }
    invariant(
        earlier == .needMore || earlier == answer,
        "one byte earlier: \(earlier), now: \(answer): \(hex(input))")

    switch answer {
    case .invalid(let error):
        ProxyChecks.checkError(error, input: input)
        if reference == .undecided {
            // An error before the line is complete claims no continuation is valid; CRLF is one.
            let completed = input + [0x0D, 0x0A]
            if case .header = ProxyReference.v1(completed) {
                invariant(false, "\(error) before the line ended, but it completes with CRLF: \(hex(input))")
            }
        }
    case .header(let header, let consumed):
        ProxyChecks.checkAccepted(header, consumed: consumed, input: input, detector: detector)
    case .needMore, .notProxy:
        break
    }
    return 0
}

@main
enum FuzzProxyV1Main {
    static func main() { runLibFuzzer(fuzz) }
}
