/// The pieces of an HTTP/1.x head (RFC 9112) that requests and responses share, read strictly: CRLF line
/// ends only, header names that are tokens, no obs-fold, no control bytes in values. Everything works on a
/// prefix of the head, so a head is refused at its first wrong byte rather than when the blank line comes.
enum HTTPHeadScanner {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09

    enum Step: Equatable {
        /// The head so far is fine and the next piece has not arrived yet.
        case incomplete
        case invalid(String)
        /// A header line; `next` is the offset after its CRLF. The value has no surrounding whitespace.
        case field(name: Range<Int>, value: Range<Int>, next: Int)
        /// The blank line ending the head; `next` is the head's length.
        case end(next: Int)
    }

    /// The header line or blank line at `start`, reading no further than `limit`.
    static func headerLine(_ bytes: UnsafeRawBufferPointer, at start: Int, limit: Int) -> Step {
        var index = start
        guard index < limit else { return .incomplete }
        switch bytes[index] {
        case cr:
            index += 1
            guard index < limit else { return .incomplete }
            guard bytes[index] == lf else { return .invalid("CR without LF") }
            return .end(next: index + 1)
        case lf:
            return .invalid("line ending without CR")
        case space, tab:
            return .invalid("obsolete line folding")
        default:
            break
        }
        while index < limit, isTokenByte(bytes[index]) { index += 1 }
        guard index < limit else { return .incomplete }
        guard bytes[index] == UInt8(ascii: ":"), index > start else { return .invalid("malformed header name") }
        let name = start..<index
        index += 1
        while index < limit, bytes[index] == space || bytes[index] == tab { index += 1 }
        let valueStart = index
        var valueEnd = index
        while index < limit, bytes[index] != cr {
            let byte = bytes[index]
            guard byte != lf else { return .invalid("line ending without CR") }
            guard isFieldByte(byte) else { return .invalid("control byte in a header value") }
            index += 1
            if byte != space && byte != tab { valueEnd = index }
        }
        guard index < limit else { return .incomplete }
        index += 1
        guard index < limit else { return .incomplete }
        guard bytes[index] == lf else { return .invalid("CR without LF") }
        return .field(name: name, value: valueStart..<valueEnd, next: index + 1)
    }

    /// Reads `CRLF` at `index`: the offset after it, nil while it has not arrived, or an invalid step.
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, at index: Int, limit: Int) -> Result<Int?, LineEndProblem> {
        guard index < limit else { return .success(nil) }
        guard bytes[index] == cr else { return .failure(.noCR) }
        guard index + 1 < limit else { return .success(nil) }
        guard bytes[index + 1] == lf else { return .failure(.noLF) }
        return .success(index + 2)
    }

    enum LineEndProblem: Error { case noCR, noLF }

    /// Matches `HTTP/1.0` or `HTTP/1.1` at `index` as far as the bytes go: the minor version, nil while
    /// arriving, or -1 when it is some other version.
    static func version(_ bytes: UnsafeRawBufferPointer, at index: Int, limit: Int) -> Int? {
        let prefix: StaticString = "HTTP/1."
        for offset in 0..<7 {
            guard index + offset < limit else { return nil }
            if bytes[index + offset] != prefix.utf8Start[offset] { return -1 }
        }
        guard index + 7 < limit else { return nil }
        switch bytes[index + 7] {
        case UInt8(ascii: "0"): return 0
        case UInt8(ascii: "1"): return 1
        default: return -1
        }
    }

    /// tchar (RFC 9110 section 5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// field-vchar, SP or HTAB; obs-text (0x80-0xFF) is allowed as RFC 9110 still allows it.
    static func isFieldByte(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || (byte >= 0x21 && byte != 0x7F)
    }

    /// Whether `range` of `bytes` equals `lowercase` ignoring ASCII case (`lowercase` must be lower case).
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        return hasPrefixIgnoringCase(bytes, range, lowercase)
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != text.utf8Start[offset] { return false }
        return true
    }

    static func hasPrefixIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard range.count >= count else { return false }
        for offset in 0..<count where lowercased(bytes[range.lowerBound + offset]) != lowercase.utf8Start[offset] {
            return false
        }
        return true
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
