/// Text that is not a Go duration (`time.ParseDuration` syntax).
public struct DurationSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        case malformed
        /// Beyond Go's range: at most 2562047h47m16.854775807s either way.
        case outOfRange
    }

    public var text: String
    public var reason: Reason

    public init(text: String, reason: Reason) {
        self.text = text
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .malformed: return "\"\(text)\" is not a duration: use e.g. 300ms, 5s, 1m30s"
        case .outOfRange: return "\"\(text)\" is out of range: at most 2562047h47m16.854775807s"
        }
    }
}

extension Duration {
    /// A duration as GOST's settings take it: Go syntax, or a bare integer meaning seconds
    /// (GOST's `GetDuration` reads `30` as 30 s).
    public init(setting text: String) throws(DurationSyntaxError) {
        // Bare seconds go through the same range check as "Ns": beyond Go's Duration they are refused.
        if !text.isEmpty, text.allSatisfy({ ("0"..."9").contains($0) }) {
            try self.init(goSyntax: text + "s")
            return
        }
        try self.init(goSyntax: text)
    }

    /// Parses Go's `time.ParseDuration` syntax, which GOST uses for every duration: an optional
    /// sign, then one or more decimal numbers (with optional fraction) each followed by a unit
    /// `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m` or `h`: `300ms`, `-1.5h`, `2h45m`, `.5s`. A bare
    /// `0` is zero. Nanosecond precision, as in Go.
    public init(goSyntax text: some StringProtocol) throws(DurationSyntaxError) {
        let original = String(text)
        let malformed = DurationSyntaxError(text: original, reason: .malformed)
        let outOfRange = DurationSyntaxError(text: original, reason: .outOfRange)
        var scalars = Substring(original).unicodeScalars[...]
        var negative = false
        if let first = scalars.first, first == "-" || first == "+" {
            negative = first == "-"
            scalars = scalars.dropFirst()
        }
        if String(scalars) == "0" {
            self = .zero
            return
        }
        guard !scalars.isEmpty else { throw malformed }
        let limit: UInt64 = 1 << 63
        var total: UInt64 = 0
        while !scalars.isEmpty {
            // The number: digits, optionally '.' and more digits; at least one digit overall.
            var whole: UInt64 = 0
            var wholeDigits = 0
            while let digit = scalars.first.flatMap(Duration.digitValue) {
                let (shifted, overflow1) = whole.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
                guard !overflow1, !overflow2, sum <= limit else { throw outOfRange }
                whole = sum
                wholeDigits += 1
                scalars = scalars.dropFirst()
            }
            var fraction: UInt64 = 0
            var scale = 1.0
            var fractionDigits = 0
            if scalars.first == "." {
                scalars = scalars.dropFirst()
                var saturated = false
                while let digit = scalars.first.flatMap(Duration.digitValue) {
                    // Like Go: digits past what 63 bits can hold are read but add nothing.
                    if !saturated {
                        let (shifted, overflow1) = fraction.multipliedReportingOverflow(by: 10)
                        let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
                        if overflow1 || overflow2 || sum > limit {
                            saturated = true
                        } else {
                            fraction = sum
                            scale *= 10
                        }
                    }
                    fractionDigits += 1
                    scalars = scalars.dropFirst()
                }
            }
            guard wholeDigits + fractionDigits > 0 else { throw malformed }
            // The unit: everything up to the next number.
            var unitText = ""
            while let scalar = scalars.first, scalar != ".", Duration.digitValue(scalar) == nil {
                unitText.unicodeScalars.append(scalar)
                scalars = scalars.dropFirst()
            }
            guard let unit = Duration.goUnits[unitText] else { throw malformed }
            guard whole <= limit / unit else { throw outOfRange }
            var value = whole * unit
            if fraction > 0 {
                value += UInt64(Double(fraction) * (Double(unit) / scale))
                guard value <= limit else { throw outOfRange }
            }
            // Each part is at most 2^63, so the sum cannot wrap 64 bits; it may pass the limit.
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow, sum <= limit else { throw outOfRange }
            total = sum
        }
        if negative {
            self = .nanoseconds(total == limit ? Int64.min : -Int64(total))
        } else {
            guard total < limit else { throw outOfRange }
            self = .nanoseconds(Int64(total))
        }
    }

    /// Go's `time.Duration.String()` form (`1h30m0s`, `300ms`, `1.5µs`, `0s`), the way GOST prints
    /// durations; parses back with `init(goSyntax:)`. Precision is cut at nanoseconds.
    public var goDescription: String {
        let (seconds, attoseconds) = components
        let (wholeNanos, overflow1) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (nanos, overflow2) = wholeNanos.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow1 || overflow2 { return seconds < 0 ? "-2562047h47m16.854775808s" : "2562047h47m16.854775807s" }
        return Duration.goString(nanoseconds: nanos)
    }

    static func goString(nanoseconds: Int64) -> String {
        if nanoseconds == 0 { return "0s" }
        let sign = nanoseconds < 0 ? "-" : ""
        let magnitude = nanoseconds.magnitude
        if magnitude < 1_000_000_000 {
            // Below a second: the largest unit that keeps a whole part.
            let (unitSize, name): (UInt64, String) =
                magnitude < 1_000 ? (1, "ns") : magnitude < 1_000_000 ? (1_000, "µs") : (1_000_000, "ms")
            return sign + decimal(magnitude, unitSize: unitSize) + name
        }
        let hours = magnitude / 3_600_000_000_000
        let minutes = magnitude / 60_000_000_000 % 60
        let secondsPart = decimal(magnitude % 60_000_000_000, unitSize: 1_000_000_000) + "s"
        if hours > 0 { return "\(sign)\(hours)h\(minutes)m\(secondsPart)" }
        if minutes > 0 { return "\(sign)\(minutes)m\(secondsPart)" }
        return sign + secondsPart
    }

    /// `value / unitSize` with the fraction's trailing zeros dropped: `1500, 1000` is `1.5`.
    private static func decimal(_ value: UInt64, unitSize: UInt64) -> String {
        let whole = value / unitSize
        var fraction = value % unitSize
        guard fraction > 0 else { return String(whole) }
        var width = String(unitSize).count - 1
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        let digits = String(fraction)
        return "\(whole)." + String(repeating: "0", count: width - digits.count) + digits
    }

    private static let goUnits: [String: UInt64] = [
        "ns": 1, "us": 1_000, "\u{B5}s": 1_000, "\u{3BC}s": 1_000, "ms": 1_000_000,
        "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]

    private static func digitValue(_ scalar: Unicode.Scalar) -> UInt32? {
        ("0"..."9").contains(scalar) ? scalar.value - 48 : nil
    }
}
