import HarnessSupport
import ProxyProtocol

/// `ProxyHeaderDetector` as a connection drives it: the first byte of the fuzz input is a control byte, the
/// rest is what the client sends. The control byte picks a split point (proportional to the length) and a
/// chunk size for feeding the bytes incrementally.
///
/// Checked: the answer agrees with the reference parsers (`notProxy` exactly when neither signature fits);
/// the answer on a prefix is `needMore` or the answer on the whole input, and fed in chunks the first
/// decision is the whole input's; a `needMore` means a header can still complete (at most 107 bytes for
/// v1, 16 + length for v2); `parse` throws what `detect` says; an accepted header passes
/// `ProxyChecks.checkAccepted` (consumed within the input, round trip through `ProxyHeaderEncoder`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    guard let control = bytes.first else { return 0 }
    let input = Array(bytes.dropFirst())
    let detector = ProxyHeaderDetector()

    let whole = withExactCopy(input) { detector.detect($0) }
    ProxyChecks.agree(
        whole, with: ProxyReference.detect(input, maximumHeaderLength: detector.maximumHeaderLength), input: input)

    // A decision on a prefix is final.
    let split = input.count * Int(control) / 255
    let early = withExactCopy(input[0..<split]) { detector.detect($0) }
    invariant(
        early == .needMore || early == whole,
        "prefix of \(split) bytes said \(early), all \(input.count) said \(whole): \(hex(input))")

    // Fed in chunks, the first decision is the whole input's.
    let chunk = Int(control & 0x0F) + 1
    var end = 0
    while end < input.count {
        end = min(end + chunk, input.count)
        let answer = withExactCopy(input[0..<end]) { detector.detect($0) }
        guard answer != .needMore else { continue }
        invariant(
            answer == whole, "after \(end) bytes in chunks of \(chunk): \(answer), all said \(whole): \(hex(input))")
        break
    }

    switch whole {
    case .needMore:
        // Only while a header can still complete.
        if input.starts(with: ProxyReference.v1Signature) {
            invariant(
                input.count < ProxyReference.v1MaximumLength, "needMore after \(input.count) bytes of v1: \(hex(input))"
            )
        } else if input.count >= 16, input.starts(with: ProxyReference.v2Signature) {
            let total = 16 + (Int(input[14]) << 8 | Int(input[15]))
            invariant(input.count < total, "needMore with \(input.count) of \(total) bytes of v2: \(hex(input))")
        } else {
            invariant(input.count < 16, "needMore on \(hex(input))")
        }
    case .notProxy:
        invariant(!input.isEmpty, "notProxy on no bytes")
    case .invalid(let error):
        ProxyChecks.checkError(error, input: input)
    case .header(let header, let consumed):
        ProxyChecks.checkAccepted(header, consumed: consumed, input: input, detector: detector)
    }

    // `parse` is `detect` for input known to be complete.
    do {
        let parsed = try withExactCopy(input) { try detector.parse($0) }
        invariant(
            whole == .header(parsed.header, consumed: parsed.consumed), "parse returned \(parsed), detect \(whole)")
    } catch let error as ProxyProtocolError {
        switch whole {
        case .needMore: invariant(error == .truncated(available: input.count), "parse threw \(error) for needMore")
        case .notProxy: invariant(error == .badSignature, "parse threw \(error) for notProxy")
        case .invalid(let detected): invariant(error == detected, "parse threw \(error), detect said \(detected)")
        case .header: invariant(false, "parse threw \(error) for \(whole)")
        }
    } catch {
        invariant(false, "parse threw a foreign error \(error)")
    }
    return 0
}

@main
enum FuzzProxyDetectorMain {
    static func main() { runLibFuzzer(fuzz) }
}
