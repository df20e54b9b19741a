import CLiburing
import Glibc

/// A pthread with a name (shown by `top -H`, `perf`), running one closure. Swift concurrency has
/// no place in the event loops: each worker is a thread of its own.
public struct NamedThread: Sendable {
    private let handle: pthread_t

    private final class Context {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept).
    public static func spawn(name: String, _ body: @escaping @Sendable () -> Void) throws(Errno) -> NamedThread {
        let context = Unmanaged.passRetained(Context(name: name, body: body)).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<Context>.fromOpaque(raw).takeRetainedValue()
            _ = pthread_setname_np(pthread_self(), String(context.name.utf8.prefix(15)) ?? "ringway")
            context.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<Context>.fromOpaque(context).release()
            throw Errno(rawValue: result)
        }
        return NamedThread(handle: handle)
    }

    /// Waits for the thread to end.
    public func join() {
        pthread_join(handle, nil)
    }
}
