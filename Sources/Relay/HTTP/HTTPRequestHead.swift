/// The parts of an HTTP/1.x request head the built-in services need.
///
/// `@_spi(Fuzzing) public` only so that the fuzz target in `Fuzz/` can reach `parse`; not API.
@_spi(Fuzzing) public struct HTTPRequestHead: Equatable {
    @_spi(Fuzzing) public var method: String
    @_spi(Fuzzing) public var path: String
    @_spi(Fuzzing) public var version: String
    /// Bytes up to and including the blank line.
    @_spi(Fuzzing) public var headLength: Int
    /// Content-Length (0 when absent).
    @_spi(Fuzzing) public var bodyLength: Int
    @_spi(Fuzzing) public var keepAlive: Bool

    @_spi(Fuzzing) public enum ParseResult: Equatable {
        case incomplete
        case complete(HTTPRequestHead)
        case invalid(String)
    }

    /// Looks for a complete head at the start of `bytes`.
    @_spi(Fuzzing) public static func parse(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        guard let end = headEnd(bytes) else { return .incomplete }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return .invalid("empty request") }
        // Split at space bytes: a combining mark after a space joins it into one Character.
        let requestLine = lines.removeFirst().utf8.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            .map { Substring($0) }
        guard requestLine.count == 3, !requestLine[0].isEmpty, !requestLine[1].isEmpty,
              requestLine[2] == "HTTP/1.1" || requestLine[2] == "HTTP/1.0"
        else { return .invalid("malformed request line") }
        let version = String(requestLine[2])
        var keepAlive = version == "HTTP/1.1"
        var bodyLength = 0
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return .invalid("malformed header line") }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces().lowercased()
            switch name {
            case "connection":
                if value.contains("close") { keepAlive = false }
                if value.contains("keep-alive") { keepAlive = true }
            case "content-length":
                guard let length = Int(value), length >= 0 else { return .invalid("bad Content-Length") }
                bodyLength = length
            case "transfer-encoding":
                return .invalid("chunked request bodies are not supported")
            default:
                break
            }
        }
        return .complete(HTTPRequestHead(
            method: String(requestLine[0]), path: String(requestLine[1]), version: version,
            headLength: end, bodyLength: bodyLength, keepAlive: keepAlive))
    }

    /// Offset just past the first CRLFCRLF, or nil.
    private static func headEnd(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 0x0A && bytes[index - 1] == 0x0D && bytes[index - 2] == 0x0A && bytes[index - 3] == 0x0D {
            return index + 1
        }
        return nil
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " || result.first == "\t" { result.removeFirst() }
        while result.last == " " || result.last == "\t" { result.removeLast() }
        return result
    }
}
