import CLiburing
import Glibc

/// Where log lines go, opened so that a write never blocks: a reader that stops reading (a full
/// pipe, a stalled journal, a terminal paused with Ctrl-S) must not stop a worker's ring.
///
/// O_NONBLOCK belongs to an open file description, which the descriptor we are given shares
/// with whoever else holds it (the shell, a supervisor), so it is never set there. A pipe or a
/// terminal is opened again through /proc/self/fd, which gives a description of our own; a
/// socket takes MSG_DONTWAIT per send; a regular file never waits for a reader.
struct LogOutput: Sendable {
    let descriptor: Int32
    let isSocket: Bool
    /// The descriptor was opened here and must be closed by whoever opened the output.
    let owned: Bool

    static func open(_ original: Int32) -> LogOutput {
        var status = stat()
        guard fstat(original, &status) == 0 else { return LogOutput(descriptor: original, isSocket: false, owned: false) }
        switch status.st_mode & S_IFMT {
        case S_IFSOCK:
            return LogOutput(descriptor: original, isSocket: true, owned: false)
        case S_IFIFO, S_IFCHR:
            let reopened = Glibc.open("/proc/self/fd/\(original)", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if reopened >= 0 { return LogOutput(descriptor: reopened, isSocket: false, owned: true) }
            return LogOutput(descriptor: original, isSocket: false, owned: false)
        default:
            return LogOutput(descriptor: original, isSocket: false, owned: false)
        }
    }

    func closeIfOwned() {
        if owned { Glibc.close(descriptor) }
    }

    enum WriteResult {
        case wrote(Int)
        /// The reader is not keeping up; try again later.
        case wouldBlock
        /// The output is gone (closed pipe, EBADF...): what was written is lost for good.
        case failed
    }

    /// One write attempt, retried only on EINTR.
    func write(_ bytes: UnsafeRawPointer, count: Int) -> WriteResult {
        while true {
            let written = isSocket
                ? send(descriptor, bytes, count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                : Glibc.write(descriptor, bytes, count)
            if written >= 0 { return .wrote(written) }
            switch errno {
            case EINTR: continue
            case EAGAIN: return .wouldBlock
            default: return .failed
            }
        }
    }
}
