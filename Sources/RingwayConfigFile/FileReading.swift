import RingwayConfig

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file (or standard input) as bytes, with the system's reason when it cannot be read.
enum FileReading {
    /// More than any configuration needs; a larger input is a mistake (`-C /dev/zero`).
    static let maximumSize = 16 << 20

    static func contents(of path: String) throws(ConfigurationError) -> [UInt8] {
        let origin = ConfigurationError.Origin.setting("-C \(path == "-" ? "stdin" : path)")
        let descriptor = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw ConfigurationError(.unreadable(reason: reason()), origin: origin) }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }
        var status = stat()
        if fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFDIR {
            throw ConfigurationError(.unreadable(reason: "it is a directory"), origin: origin)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw ConfigurationError(.unreadable(reason: reason()), origin: origin)
            }
            bytes += chunk[..<count]
            if bytes.count > maximumSize {
                throw ConfigurationError(.unreadable(reason: "it is larger than 16 MiB"), origin: origin)
            }
        }
        return bytes
    }

    private static func reason() -> String { String(cString: strerror(errno)) }
}
