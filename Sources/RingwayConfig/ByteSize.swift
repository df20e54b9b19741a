/// A byte count as people write it: `1073741824`, `512MiB`, `1GiB`, `64M`, `2g`. The suffixes
/// K, M, G (with or without `iB`/`B`, any case) are powers of 1024, as memory is sized.
public enum ByteSize {
    public static func parse(_ text: String) -> Int? {
        let lowered = text.lowercased()
        let digits = lowered.prefix { ("0"..."9").contains($0) }
        guard !digits.isEmpty, digits.count <= 15, let number = Int(digits) else { return nil }
        let shift: Int
        switch lowered.dropFirst(digits.count) {
        case "", "b": shift = 0
        case "k", "kb", "kib": shift = 10
        case "m", "mb", "mib": shift = 20
        case "g", "gb", "gib": shift = 30
        case "t", "tb", "tib": shift = 40
        default: return nil
        }
        let (value, overflow) = number.multipliedReportingOverflow(by: 1 << shift)
        return overflow ? nil : value
    }
}
