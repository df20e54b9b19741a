import CLiburing
import Glibc

/// A Linux error number. liburing hands these back negated (`-ECONNRESET` in `cqe.res`); the
/// conversion happens once, at the boundary, so nothing above it deals in raw negatives.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32

    @inlinable
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// The errno of a failed libc call, read right after it.
    @inlinable
    public static var current: Errno { Errno(rawValue: errno) }

    /// `ECONNREFUSED`, or `E<number>` for codes glibc cannot name.
    public var name: String {
        guard let text = ringway_errno_name(rawValue) else { return "E\(rawValue)" }
        return String(cString: text)
    }

    /// `Connection refused`.
    public var message: String {
        guard let text = ringway_errno_text(rawValue) else { return "error \(rawValue)" }
        return String(cString: text)
    }

    public var description: String { "\(name) (\(message))" }

    public static let interrupted = Errno(rawValue: EINTR)
    public static let wouldBlock = Errno(rawValue: EAGAIN)
    public static let noBuffers = Errno(rawValue: ENOBUFS)
    public static let canceled = Errno(rawValue: ECANCELED)
    public static let timedOut = Errno(rawValue: ETIME)
    public static let connectionReset = Errno(rawValue: ECONNRESET)
    public static let brokenPipe = Errno(rawValue: EPIPE)
    public static let connectionRefused = Errno(rawValue: ECONNREFUSED)
    public static let tooManyOpenFiles = Errno(rawValue: EMFILE)
    public static let tooManyOpenFilesInSystem = Errno(rawValue: ENFILE)
    public static let invalidArgument = Errno(rawValue: EINVAL)
}

/// Runs a libc call that reports failure as -1 + errno, retrying on EINTR.
@inlinable
public func systemCall<Result: BinaryInteger>(_ body: () -> Result) throws(Errno) -> Result {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = Errno.current
        if code != .interrupted { throw code }
    }
}
