import RingwayConfig
import Testing

@Suite("Go durations")
struct DurationTests {
    @Test(arguments: [
        ("0", Int64(0)), ("+0", 0), ("-0", 0), ("0s", 0), ("5s", 5_000_000_000), ("300ms", 300_000_000),
        ("1.5h", 5_400_000_000_000), ("2h45m", 9_900_000_000_000), ("1m30s", 90_000_000_000),
        ("1h2m3s4ms5us6ns", 3_723_004_005_006), ("1\u{B5}s", 1_000), ("1\u{3BC}s", 1_000), ("1us", 1_000),
        ("100ns", 100), (".5s", 500_000_000), ("1.s", 1_000_000_000), ("-1.5s", -1_500_000_000),
        ("+2m", 120_000_000_000), ("1s1s", 2_000_000_000), ("0.000000001s", 1), ("1.0000000001s", 1_000_000_000),
        ("2562047h47m16.854775807s", Int64.max), ("-2562047h47m16.854775808s", Int64.min),
        ("9223372036854775807ns", Int64.max),
    ])
    func parses(_ text: String, _ nanoseconds: Int64) throws {
        #expect(try Duration(goSyntax: text) == .nanoseconds(nanoseconds))
    }

    @Test(arguments: ["", "5x", "5", "s", ".s", ".", "-", "1h 30m", "--1s", "1e3s", "1.5.5s", "5S", "1hour", "1,5s"])
    func refusesMalformed(_ text: String) {
        #expect(throws: DurationSyntaxError(text: text, reason: .malformed)) { try Duration(goSyntax: text) }
    }

    @Test(arguments: [
        "9223372036854775808ns", "2562047h47m16.854775808s", "-2562047h47m16.854775809s", "99999999999999999999h",
        "3000000h",
        // Found by Fuzz/FuzzServiceURL: two parts of exactly 2^63 ns each wrapped the 64-bit sum (a trap).
        "9223372036854775808ns9223372036854775808ns", "-9223372036854775808ns9223372036854775808ns",
    ])
    func refusesOutOfRange(_ text: String) {
        #expect(throws: DurationSyntaxError(text: text, reason: .outOfRange)) { try Duration(goSyntax: text) }
    }

    @Test func errorSaysWhatADurationLooksLike() {
        #expect(
            DurationSyntaxError(text: "5x", reason: .malformed).description
                == "\"5x\" is not a duration: use e.g. 300ms, 5s, 1m30s"
        )
    }

    @Test(arguments: [
        (Duration.zero, "0s"), (.milliseconds(1500), "1.5s"), (.seconds(90), "1m30s"), (.seconds(3600), "1h0m0s"),
        (.milliseconds(300), "300ms"), (.nanoseconds(1500), "1.5\u{B5}s"), (.nanoseconds(1), "1ns"),
        (.milliseconds(-1500), "-1.5s"), (.seconds(360_000), "100h0m0s"), (.nanoseconds(1_000_000_001), "1.000000001s"),
        (.nanoseconds(Int64.max), "2562047h47m16.854775807s"), (.nanoseconds(Int64.min), "-2562047h47m16.854775808s"),
        (.seconds(61) + .milliseconds(50), "1m1.05s"),
    ])
    func formatsLikeGo(_ duration: Duration, _ text: String) throws {
        #expect(duration.goDescription == text)
        #expect(try Duration(goSyntax: text) == duration)
    }

    /// Settings take bare seconds, with the same range as written with `s`.
    @Test func bareSecondsHaveGosRange() throws {
        #expect(try Duration(setting: "30") == .seconds(30))
        #expect(throws: DurationSyntaxError(text: "999999999999s", reason: .outOfRange)) {
            try Duration(setting: "999999999999")
        }
        #expect(try Duration(setting: "9223372036") == .seconds(9_223_372_036))
    }
}
