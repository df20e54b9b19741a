import HarnessSupport
import ProxyProtocol

/// The v2 parser (V2HeaderParser, the TLV reader, the CRC32C check) and the SSL TLV parser (ProxySSLInfo).
/// The parser is internal to ProxyProtocol; the detector hands any input that starts with the 12-byte
/// signature and has a 13th byte straight to it, so the input here always starts with the signature
/// (prepended when the fuzz input lacks it) and every byte the fuzzer chooses lands in the parser.
///
/// Checked against `ProxyReference.v2`, a whole-input reference parser with its own TLV walk and a
/// bit-by-bit CRC32C: the same answer (`needMore` while the header is incomplete, the same header and
/// length, or an error with the same code) under the default limit of 4096 bytes and under the largest
/// limit; an accepted header is refused under a limit one byte shorter than it and accepted under its own
/// length; it passes `ProxyChecks.checkAccepted`. Every TLV value in the input, whatever its type and
/// whether or not the header is valid, also goes through `ProxySSLInfo(parsing:)` against the reference.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    var input = ProxyReference.v2Signature
    input.append(contentsOf: bytes.starts(with: ProxyReference.v2Signature) ? bytes.dropFirst(12) : bytes[...])

    for limit in [4096, ProxyHeaderDetector.maximumPossibleHeaderLength] {
        let detector = ProxyHeaderDetector(maximumHeaderLength: limit)
        let answer = withExactCopy(input) { detector.detect($0) }
        ProxyChecks.agree(answer, with: ProxyReference.v2(input, maximumHeaderLength: limit), input: input)
        switch answer {
        case .invalid(let error):
            ProxyChecks.checkError(error, input: input)
        case .header(let header, let consumed):
            ProxyChecks.checkAccepted(header, consumed: consumed, input: input, detector: detector)
            // The limit is the longest header accepted (never below the 16 fixed bytes).
            let exact = withExactCopy(input) { ProxyHeaderDetector(maximumHeaderLength: consumed).detect($0) }
            invariant(exact == answer, "refused under a limit of its own length \(consumed): \(exact): \(hex(input))")
            if consumed > ProxyHeaderDetector.minimumHeaderLength {
                let tight = withExactCopy(input) { ProxyHeaderDetector(maximumHeaderLength: consumed - 1).detect($0) }
                guard case .invalid(.v2HeaderTooLong(length: consumed, limit: consumed - 1)) = tight else {
                    invariant(false, "accepted a \(consumed)-byte header under a limit of \(consumed - 1): \(tight)")
                    return 0
                }
            }
        case .needMore, .notProxy:
            break
        }
    }

    // The SSL parser on every TLV value the input holds, as far as the TLVs are whole.
    if input.count > 16, let addressLength = addressLength(family: input[13]) {
        let end = min(input.count, 16 + (Int(input[14]) << 8 | Int(input[15])))
        if 16 + addressLength < end {
            for item in ProxyReference.walkTLVs(input[(16 + addressLength)..<end]).items {
                ProxyChecks.checkSSL(item.value, context: "TLV 0x\(hex([item.type])) of \(hex(input))")
            }
        }
    }
    return 0
}

private func addressLength(family: UInt8) -> Int? {
    switch family {
    case 0x00: return 0
    case 0x11, 0x12: return 12
    case 0x21, 0x22: return 36
    case 0x31, 0x32: return 216
    default: return nil
    }
}

@main
enum FuzzProxyV2Main {
    static func main() { runLibFuzzer(fuzz) }
}
