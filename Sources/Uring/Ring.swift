import CLiburing
import Glibc

/// One io_uring instance, owned by one thread.
///
/// Noncopyable: the kernel ring is torn down exactly once, when its owner goes away. Every method
/// is non-mutating because the state lives behind the `io_uring` pointer, not in the struct.
public struct Ring: ~Copyable {
    @usableFromInline
    let ring: UnsafeMutablePointer<io_uring>

    /// IORING_FEAT_* bits the kernel reported.
    public let features: UInt32
    /// The IORING_SETUP_* flags the ring was created with (after fallbacks).
    public let setupFlags: UInt32
    /// The ring's own descriptor is registered (`io_uring_register_ring_fd`).
    public let ringDescriptorRegistered: Bool

    /// Creates a ring on the calling thread, trying the flag sets in `preferences` in order and
    /// keeping the first the kernel accepts (older kernels reject DEFER_TASKRUN with EINVAL).
    public init(entries: UInt32, completionEntries: UInt32, preferences: [RingSetupFlags] = RingSetupFlags.preferred)
        throws(RingSetupError)
    {
        let ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        var lastError = Errno.invalidArgument
        for flags in preferences {
            var params = io_uring_params()
            params.flags = flags.rawValue | IORING_SETUP_CQSIZE
            params.cq_entries = completionEntries
            let result = io_uring_queue_init_params(entries, ring, &params)
            if result == 0 {
                self.ring = ring
                self.features = params.features
                self.setupFlags = flags.rawValue
                // io_uring_enter then finds the ring without an fget/fput of its descriptor on
                // every call; liburing passes IORING_ENTER_REGISTERED_RING itself. Optional: a
                // kernel without it (before 5.18) works as before.
                self.ringDescriptorRegistered = io_uring_register_ring_fd(ring) == 1
                return
            }
            lastError = Errno(rawValue: -result)
            if lastError != .invalidArgument { break }
        }
        ring.deallocate()
        throw RingSetupError(errno: lastError)
    }

    deinit {
        io_uring_queue_exit(ring)
        ring.deallocate()
    }

    /// The ring's file descriptor.
    public var fileDescriptor: Int32 { ring.pointee.ring_fd }

    /// A copyable handle to this ring for issuing requests and reaping completions; valid while
    /// the ring lives, on the ring's own thread.
    public var view: RingView { RingView(ring: ring) }
}

/// What a ring's owner thread does with it: prepare requests (`Ring+Operations`), submit and
/// wait, and reap completions as Swift values. Copyable so an event loop can hold it beside the
/// `Ring` that owns the memory; it must not outlive that `Ring`.
public struct RingView {
    @usableFromInline
    let ring: UnsafeMutablePointer<io_uring>

    @usableFromInline
    init(ring: UnsafeMutablePointer<io_uring>) {
        self.ring = ring
    }

    /// A free submission slot. When the queue is full the pending entries are submitted first, so
    /// a burst of work never fails for lack of room.
    @inlinable
    func nextSubmission() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = io_uring_submit(ring)
        guard let sqe = io_uring_get_sqe(ring) else {
            fatalError("io_uring submission queue stays full after submit")
        }
        return sqe
    }

    /// Prepared entries the kernel has not taken yet (0 right after a complete submit).
    @inlinable
    public var unsubmittedCount: Int { Int(io_uring_sq_ready(ring)) }

    /// Submits what is queued without waiting. Returns the number of entries the kernel took.
    @discardableResult
    public func submit() throws(Errno) -> Int {
        let result = io_uring_submit(ring)
        if result < 0 { throw Errno(rawValue: -result) }
        return Int(result)
    }

    /// Submits what is queued and waits until at least one completion is ready or `timeout`
    /// passes. Timing out and being interrupted are normal outcomes, not errors.
    public func submitAndWait(timeoutNanoseconds: Int64) throws(Errno) {
        var timeout = __kernel_timespec(
            tv_sec: timeoutNanoseconds / 1_000_000_000, tv_nsec: timeoutNanoseconds % 1_000_000_000)
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        let result = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &timeout, nil)
        if result >= 0 { return }
        let code = Errno(rawValue: -result)
        if code == .timedOut || code == .interrupted || code == Errno(rawValue: EBUSY) { return }
        throw code
    }

    /// Copies up to `buffer.count` ready completions into `buffer`, hands their entries back to
    /// the kernel, and returns how many there were.
    @inlinable
    public func reapCompletions(into buffer: UnsafeMutableBufferPointer<Completion>) -> Int {
        // Entry pointers are gathered a chunk at a time: a chunk fits on the stack, while a
        // temporary allocation above 1 KiB would be a malloc on every loop turn.
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<io_uring_cqe>?.self, capacity: RingView.reapChunk) { entries in
            guard let base = buffer.baseAddress else { return 0 }
            var total = 0
            while total < buffer.count {
                let wanted = min(entries.count, buffer.count - total)
                let count = Int(io_uring_peek_batch_cqe(ring, entries.baseAddress, UInt32(wanted)))
                for index in 0..<count {
                    if let entry = entries[index] { (base + total + index).initialize(to: Completion(entry)) }
                }
                io_uring_cq_advance(ring, UInt32(count))
                total += count
                if count < wanted { break }
            }
            return total
        }
    }

    /// Entry pointers per chunk: 512 bytes.
    @usableFromInline
    static let reapChunk = 64

    /// Registers a provided-buffer ring (liburing 2.3 has no `io_uring_setup_buf_ring`).
    func registerBufferRing(_ registration: inout io_uring_buf_reg) throws(Errno) {
        let result = io_uring_register_buf_ring(ring, &registration, 0)
        if result < 0 { throw Errno(rawValue: -result) }
    }

    func unregisterBufferRing(group: UInt16) {
        _ = io_uring_unregister_buf_ring(ring, Int32(group))
    }
}

/// IORING_SETUP_* combinations tried in order when creating a ring.
public struct RingSetupFlags: Hashable, Sendable {
    public let rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Completions run only when this thread asks for them: no IPIs, no task-work interrupting
    /// the loop. Kernel 6.1+.
    public static let singleIssuerDeferTaskrun = RingSetupFlags(
        rawValue: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN)
    /// The older cooperative mode (5.19+).
    public static let cooperativeTaskrun = RingSetupFlags(rawValue: IORING_SETUP_COOP_TASKRUN)
    public static let none = RingSetupFlags(rawValue: 0)

    public static let preferred: [RingSetupFlags] = [.singleIssuerDeferTaskrun, .cooperativeTaskrun, .none]
}

/// Why a ring could not be created, phrased for the person running the relay.
public struct RingSetupError: Error, CustomStringConvertible {
    public let errno: Errno

    public init(errno: Errno) {
        self.errno = errno
    }

    public var description: String {
        switch errno.rawValue {
        case EPERM:
            return "io_uring is not permitted here (\(errno.name)): check /proc/sys/kernel/io_uring_disabled "
                + "(must be 0, or 1 with this user in kernel.io_uring_group) and any seccomp profile "
                + "(Docker's default blocks io_uring)"
        case ENOSYS:
            return "this kernel has no io_uring (\(errno.name)): Ringway needs Linux 6.1 or later"
        case ENOMEM:
            return "io_uring setup ran out of locked memory (\(errno.name)): raise `ulimit -l` or use fewer workers"
        default:
            return "io_uring setup failed: \(errno)"
        }
    }
}
