/// Base64 with the standard alphabet and padding (RFC 4648 section 4), for Basic credentials.
///
/// Decoding is strict: a length that is a multiple of 4, padding only at the end, no whitespace, and zero
/// bits where padding leaves some unused (section 3.5), so that every credential has one spelling.
@_spi(Fuzzing) public enum Base64 {
    private static let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    @_spi(Fuzzing) public static func encodedLength(of count: Int) -> Int { (count + 2) / 3 * 4 }

    /// Writes the encoding of `bytes`; its length, or nil when `out` is too small.
    @_spi(Fuzzing) public static func encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        var writer = ByteWriter(out)
        var encoder = Encoder()
        encoder.append(bytes, to: &writer)
        encoder.finish(to: &writer)
        return writer.length
    }

    /// Decodes `text` into `out`; the number of bytes, or nil when `text` is not strict Base64 or `out` is
    /// too small.
    @_spi(Fuzzing) public static func decode(_ text: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer)
        -> Int?
    {
        guard text.count % 4 == 0 else { return nil }
        var writer = ByteWriter(out)
        var index = 0
        while index < text.count {
            let isLast = index + 4 == text.count
            guard let a = value(text[index]), let b = value(text[index + 1]) else { return nil }
            let c = value(text[index + 2])
            let d = value(text[index + 3])
            writer.byte(a << 2 | b >> 4)
            if let c, let d {
                writer.byte(b << 4 | c >> 2)
                writer.byte(c << 6 | d)
            } else if let c {
                // "xxx=": two bytes; the last two bits of c are padding.
                guard isLast, text[index + 3] == UInt8(ascii: "="), c & 0x03 == 0 else { return nil }
                writer.byte(b << 4 | c >> 2)
            } else {
                // "xx==": one byte; the last four bits of b are padding.
                guard isLast, text[index + 2] == UInt8(ascii: "="), text[index + 3] == UInt8(ascii: "="), b & 0x0F == 0
                else { return nil }
            }
            index += 4
        }
        return writer.length
    }

    private static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }

    /// Encodes bytes that arrive in pieces (`user`, `:`, `password`) without joining them first.
    struct Encoder {
        private var pending: UInt32 = 0
        private var pendingCount = 0

        mutating func append(_ bytes: UnsafeRawBufferPointer, to writer: inout ByteWriter) {
            for byte in bytes { append(byte, to: &writer) }
        }

        mutating func append(_ byte: UInt8, to writer: inout ByteWriter) {
            pending = pending << 8 | UInt32(byte)
            pendingCount += 1
            if pendingCount == 3 {
                writer.byte(Base64.digit(pending >> 18))
                writer.byte(Base64.digit(pending >> 12))
                writer.byte(Base64.digit(pending >> 6))
                writer.byte(Base64.digit(pending))
                pending = 0
                pendingCount = 0
            }
        }

        mutating func finish(to writer: inout ByteWriter) {
            switch pendingCount {
            case 1:
                writer.byte(Base64.digit(pending >> 2))
                writer.byte(Base64.digit(pending << 4))
                writer.ascii("==")
            case 2:
                writer.byte(Base64.digit(pending >> 10))
                writer.byte(Base64.digit(pending >> 4))
                writer.byte(Base64.digit(pending << 2))
                writer.ascii("=")
            default:
                break
            }
            pending = 0
            pendingCount = 0
        }
    }

    fileprivate static func digit(_ sextet: UInt32) -> UInt8 { alphabet.utf8Start[Int(sextet & 0x3F)] }
}
