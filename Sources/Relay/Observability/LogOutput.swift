import Uring

/// Where log lines go, opened so that a write never blocks: a reader that stops reading (a full
/// pipe, a stalled journal, a terminal paused with Ctrl-S) must not stop a worker's ring.
///
/// O_NONBLOCK belongs to an open file description, which the descriptor we are given shares
/// with whoever else holds it (the shell, a supervisor), so it is never set there. A pipe or a
/// terminal is opened again through /proc/self/fd, which gives a description of our own; a
/// socket takes MSG_DONTWAIT per send; a regular file never waits for a reader.
struct LogOutput: Sendable {
    let descriptor: Descriptor
    let isSocket: Bool
    /// The descriptor was opened here and must be closed by whoever opened the output.
    let owned: Bool

    static func open(_ original: Descriptor) -> LogOutput {
        switch original.kind {
        case .socket:
            return LogOutput(descriptor: original, isSocket: true, owned: false)
        case .pipe, .characterDevice:
            if let reopened = try? original.reopenedNonBlocking() {
                return LogOutput(descriptor: reopened, isSocket: false, owned: true)
            }
            return LogOutput(descriptor: original, isSocket: false, owned: false)
        case .other:
            return LogOutput(descriptor: original, isSocket: false, owned: false)
        }
    }

    func closeIfOwned() {
        if owned { descriptor.closeNow() }
    }

    enum WriteResult {
        case wrote(Int)
        /// The reader is not keeping up; try again later.
        case wouldBlock
        /// The output is gone (closed pipe, EBADF...): what was written is lost for good.
        case failed
    }

    /// One write attempt (interrupted calls are retried).
    func write(_ bytes: UnsafeRawPointer, count: Int) -> WriteResult {
        do {
            let written = isSocket
                ? try descriptor.sendWithoutWaiting(bytes, count: count) : try descriptor.write(bytes, count: count)
            return .wrote(written)
        } catch {
            return error == .wouldBlock ? .wouldBlock : .failed
        }
    }
}
