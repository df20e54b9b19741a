/// Host name syntax checks, so nothing malformed reaches DNS.
enum HostName {
    /// Letters, digits, `-` and `_` in dot-separated labels of 1...63 bytes, no label starting or
    /// ending with `-`, at most 253 bytes (254 with one trailing dot), and a last label that is not
    /// all digits (`1.2.3` or `300.1.1.1` are broken IP addresses, not names).
    static func isValid(_ name: String) -> Bool {
        var bytes = Array(name.utf8)
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        var labelLength = 0
        var labelAllDigits = true
        var previous: UInt8 = UInt8(ascii: ".")
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return false }
                labelLength = 0
                labelAllDigits = true
                previous = byte
                continue
            }
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            let isLetter = (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
            guard isDigit || isLetter || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") else { return false }
            if byte == UInt8(ascii: "-"), labelLength == 0 { return false }
            labelLength += 1
            guard labelLength <= 63 else { return false }
            if !isDigit { labelAllDigits = false }
            previous = byte
        }
        return labelLength > 0 && previous != UInt8(ascii: "-") && !labelAllDigits
    }

    /// The cache key: ASCII-lowercased (DNS names compare case-insensitively).
    static func key(_ name: String) -> String {
        String(decoding: name.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
