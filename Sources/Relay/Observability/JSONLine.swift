import Glibc
import ProxyProtocol

/// Builds one JSON object into caller-owned memory, without Foundation and without allocating:
/// keys are static strings, values are written straight into the buffer. Output that would not
/// fit is cut at a field boundary and the object is still closed properly.
struct JSONLine: ~Copyable {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var length = 0
    private var fields = 0
    private var truncated = false

    /// `capacity` must leave room for the closing `}\n`.
    init(into base: UnsafeMutableRawPointer, capacity: Int) {
        self.base = base
        self.capacity = capacity - 2
        append(UInt8(ascii: "{"))
    }

    /// Closes the object and returns its length including the newline.
    consuming func finish() -> Int {
        base.storeBytes(of: UInt8(ascii: "}"), toByteOffset: length, as: UInt8.self)
        base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: length + 1, as: UInt8.self)
        return length + 2
    }

    mutating func field(_ key: StaticString, _ value: String) {
        var value = value
        value.withUTF8 { bytes in
            field(key) { line in line.appendEscaped(UnsafeRawBufferPointer(bytes)) }
        }
    }

    mutating func field(_ key: StaticString, _ value: StaticString) {
        field(key) { line in line.appendEscaped(UnsafeRawBufferPointer(start: value.utf8Start, count: value.utf8CodeUnitCount)) }
    }

    mutating func field(_ key: StaticString, _ value: UInt64) {
        field(key, quoted: false) { line in line.appendDecimal(value) }
    }

    mutating func field(_ key: StaticString, _ endpoint: IPEndpoint) {
        field(key) { line in line.appendEndpoint(endpoint) }
    }

    /// Milliseconds with three decimals, as a number (GOST logs durations in its own units; a
    /// number is what log processors can aggregate).
    mutating func field(_ key: StaticString, milliseconds nanoseconds: UInt64) {
        field(key, quoted: false) { line in
            line.appendDecimal(nanoseconds / 1_000_000)
            line.append(UInt8(ascii: "."))
            let fraction = nanoseconds / 1_000 % 1_000
            if fraction < 100 { line.append(UInt8(ascii: "0")) }
            if fraction < 10 { line.append(UInt8(ascii: "0")) }
            line.appendDecimal(fraction)
        }
    }

    /// Writes `"key":` and the value produced by `body`, or nothing if it would not fit.
    mutating func field(_ key: StaticString, quoted: Bool = true, _ body: (inout JSONLine) -> Void) {
        guard !truncated else { return }
        let mark = length
        if fields > 0 { append(UInt8(ascii: ",")) }
        append(UInt8(ascii: "\""))
        appendRaw(UnsafeRawBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        append(UInt8(ascii: "\""))
        append(UInt8(ascii: ":"))
        if quoted { append(UInt8(ascii: "\"")) }
        body(&self)
        if quoted { append(UInt8(ascii: "\"")) }
        if truncated {
            length = mark  // drop the partial field
        } else {
            fields += 1
        }
    }

    mutating func append(_ byte: UInt8) {
        guard length < capacity else {
            truncated = true
            return
        }
        base.storeBytes(of: byte, toByteOffset: length, as: UInt8.self)
        length += 1
    }

    mutating func appendRaw(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes { append(byte) }
    }

    /// JSON string escaping: quotes, backslashes and control characters.
    mutating func appendEscaped(_ bytes: UnsafeRawBufferPointer) {
        let hex: StaticString = "0123456789abcdef"
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                append(UInt8(ascii: "\\"))
                append(byte)
            case UInt8(ascii: "\n"):
                append(UInt8(ascii: "\\"))
                append(UInt8(ascii: "n"))
            case 0..<0x20, 0x7F:
                appendRaw(UnsafeRawBufferPointer(start: ("\\u00" as StaticString).utf8Start, count: 4))
                append(hex.utf8Start[Int(byte >> 4)])
                append(hex.utf8Start[Int(byte & 0xF)])
            default:
                append(byte)
            }
        }
    }

    mutating func appendDecimal(_ value: UInt64) {
        // UInt64.max has 20 digits.
        var scratch: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var remaining = value
        withUnsafeMutableBytes(of: &scratch) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            } while remaining != 0
            for index in stride(from: count - 1, through: 0, by: -1) { append(buffer[index]) }
        }
    }

    mutating func appendPadded(_ value: UInt64, width: Int) {
        var divisor: UInt64 = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 1 && value < divisor {
            append(UInt8(ascii: "0"))
            divisor /= 10
        }
        appendDecimal(value)
    }

    /// Raw ASCII text with no characters that need escaping (separators such as ` <> `).
    mutating func appendRaw(_ text: StaticString) {
        appendRaw(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func appendEscaped(_ text: String) {
        var text = text
        text.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0)) }
    }

    /// Sixteen lowercase hex digits, big-endian.
    mutating func appendHex(_ value: UInt64) {
        let digits: StaticString = "0123456789abcdef"
        for shift in stride(from: 60, through: 0, by: -4) {
            append(digits.utf8Start[Int(value >> UInt64(shift) & 0xF)])
        }
    }

    mutating func appendEndpoint(_ endpoint: IPEndpoint) {
        withUnsafeTemporaryAllocation(byteCount: 48, alignment: 1) { scratch in
            var end = 0
            switch endpoint.address {
            case .v4(let address):
                end = address.writeText(into: scratch, at: 0)
            case .v6(let address):
                scratch[0] = UInt8(ascii: "[")
                end = address.writeText(into: scratch, at: 1)
                scratch[end] = UInt8(ascii: "]")
                end += 1
            }
            appendRaw(UnsafeRawBufferPointer(rebasing: scratch[0..<end]))
        }
        append(UInt8(ascii: ":"))
        appendDecimal(UInt64(endpoint.port))
    }
}
