import ProxyProtocol
import RingwayTestSupport
import Testing

let detector = ProxyHeaderDetector()

/// Checks the detector's answer for a table row, then that every shorter prefix is `needMore` or
/// the same answer (a decision never changes as bytes arrive), and that payload after the input
/// changes nothing.
func checkDetection(_ row: DetectionCase, sourceLocation: SourceLocation = #_sourceLocation) {
    let result = detector.detect(row.input)
    switch row.expected {
    case .header(let header, let consumed):
        let expectedConsumed = consumed ?? row.input.count
        #expect(result == .header(header, consumed: expectedConsumed), "\(row.name)", sourceLocation: sourceLocation)
    case .invalid(let code):
        guard case .invalid(let error) = result else {
            Issue.record("\(row.name): expected \(code.name), got \(result)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(row.name): \(error)", sourceLocation: sourceLocation)
    case .notProxy:
        #expect(result == .notProxy, "\(row.name)", sourceLocation: sourceLocation)
    case .needMore:
        #expect(result == .needMore, "\(row.name)", sourceLocation: sourceLocation)
    }
    for length in 0..<row.input.count {
        let prefixResult = detector.detect(Array(row.input[0..<length]))
        if prefixResult != .needMore {
            #expect(
                prefixResult == result, "\(row.name): prefix \(length) decided \(prefixResult)",
                sourceLocation: sourceLocation)
            break
        }
    }
    if result != .needMore {
        let withPayload = detector.detect(row.input + ascii("GET / HTTP/1.1\r\n\r\n"))
        #expect(withPayload == result, "\(row.name) followed by payload", sourceLocation: sourceLocation)
    }
}

/// SplitMix64: a tiny seeded generator, so that random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random IPv6 addresses that often contain runs of zero groups (where the text forms differ).
func randomIPv6<G: RandomNumberGenerator>(using rng: inout G) -> IPv6Address {
    var halves: (UInt64, UInt64) = (0, 0)
    for index in 0..<8 {
        let group: UInt64
        switch Int.random(in: 0..<4, using: &rng) {
        case 0, 1: group = 0
        case 2: group = UInt64.random(in: 0...0xF, using: &rng)
        default: group = UInt64.random(in: 0...0xFFFF, using: &rng)
        }
        if index < 4 {
            halves.0 |= group << UInt64(48 - 16 * index)
        } else {
            halves.1 |= group << UInt64(48 - 16 * (index - 4))
        }
    }
    if Int.random(in: 0..<10, using: &rng) == 0 {
        return IPv6Address(v4Mapped: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &rng)))
    }
    return IPv6Address(high: halves.0, low: halves.1)
}
