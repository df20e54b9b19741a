import CLiburing
import Glibc

/// Submission helpers: each takes a free slot, prepares one operation and tags it with
/// `userData`, which comes back unchanged in the operation's completion(s).
extension RingView {
    /// A request that does nothing: its completion only carries `userData` back.
    @inlinable
    public func prepareNop(userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_nop(sqe)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// One request that keeps posting a completion per accepted connection while
    /// `IORING_CQE_F_MORE` is set. Peer addresses are not collected: one address slot cannot serve
    /// many completions. Accepted sockets stay blocking: io_uring polls them itself, and a
    /// blocking socket never turns a punted request into a spurious -EAGAIN.
    @inlinable
    public func prepareMultishotAccept(listener: Descriptor, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_multishot_accept(sqe, listener.rawValue, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// A receive that picks its buffer from provided-buffer group `group` only when data arrives,
    /// so a connection waiting for input holds no memory. `pollFirst` skips the initial read
    /// attempt when the socket is known to be empty (it was just drained), going straight to
    /// waiting for data.
    @inlinable
    public func prepareReceive(
        socket: Descriptor, bufferGroup group: UInt16, pollFirst: Bool = false, multishot: Bool = false, userData: UInt64
    ) {
        let sqe = nextSubmission()
        io_uring_prep_recv(sqe, socket.rawValue, nil, 0, 0)
        sqe.pointee.flags |= ringway_IOSQE_BUFFER_SELECT
        sqe.pointee.buf_group = group
        if pollFirst { sqe.pointee.ioprio |= UInt16(IORING_RECVSEND_POLL_FIRST) }
        // Stays armed, posting a completion with IORING_CQE_F_MORE per read, until one without.
        if multishot { sqe.pointee.ioprio |= UInt16(IORING_RECV_MULTISHOT) }
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// A receive into caller-owned memory that stays valid until the completion arrives.
    @inlinable
    public func prepareReceive(socket: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_recv(sqe, socket.rawValue, buffer, length, 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// A send that never raises SIGPIPE. The memory must stay valid until the completion.
    @inlinable
    public func prepareSend(socket: Descriptor, from buffer: UnsafeRawPointer, length: Int, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_send(sqe, socket.rawValue, buffer, length, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// A connect bounded by a linked timeout: if `timeout` passes first, the connect completes
    /// with -ECANCELED and the timeout with -ETIME; otherwise the timeout completes with
    /// -ECANCELED (or -ENOENT). Both completions always arrive. `address` and `timeout` must stay
    /// where they are until the request is submitted.
    @inlinable
    public func prepareConnect(
        socket: Descriptor, address: UnsafePointer<SocketAddress>, userData: UInt64,
        timeout: UnsafeMutablePointer<Timeout>, timeoutUserData: UInt64
    ) {
        // The pair must reach the kernel together: a full queue submitted between them would
        // send the connect unlinked (no timeout) and the timeout alone (-EINVAL).
        if io_uring_sq_space_left(ring) < 2 { _ = io_uring_submit(ring) }
        let connect = nextSubmission()
        UnsafeRawPointer(address).withMemoryRebound(to: sockaddr_storage.self, capacity: 1) { storage in
            io_uring_prep_connect(
                connect, socket.rawValue, UnsafeRawPointer(storage).assumingMemoryBound(to: sockaddr.self),
                address.pointee.length)
        }
        connect.pointee.flags |= ringway_IOSQE_IO_LINK
        io_uring_sqe_set_data64(connect, userData)
        let limit = nextSubmission()
        UnsafeMutableRawPointer(timeout).withMemoryRebound(to: __kernel_timespec.self, capacity: 1) { spec in
            io_uring_prep_link_timeout(limit, spec, 0)
        }
        io_uring_sqe_set_data64(limit, timeoutUserData)
    }

    /// Cancels every in-flight request on `descriptor`; completes with the number canceled or -ENOENT.
    @inlinable
    public func prepareCancelAll(descriptor: Descriptor, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_cancel_fd(sqe, descriptor.rawValue, UInt32(IORING_ASYNC_CANCEL_ALL))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Cancels the request tagged `target`.
    @inlinable
    public func prepareCancel(target: UInt64, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_cancel64(sqe, target, 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    @inlinable
    public func prepareRead(descriptor: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_read(sqe, descriptor.rawValue, buffer, UInt32(length), 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// A read into a buffer the kernel picks from provided-buffer group `group`.
    @inlinable
    public func prepareRead(descriptor: Descriptor, bufferGroup group: UInt16, length: Int, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_read(sqe, descriptor.rawValue, nil, UInt32(length), 0)
        sqe.pointee.flags |= ringway_IOSQE_BUFFER_SELECT
        sqe.pointee.buf_group = group
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Moves up to `length` bytes between a socket and a pipe inside the kernel. Runs on io-wq
    /// threads; `SPLICE_F_NONBLOCK` makes a full or empty pipe return -EAGAIN instead of parking
    /// one of those threads (the socket's own O_NONBLOCK decides for the socket side).
    @inlinable
    public func prepareSplice(from source: Descriptor, to destination: Descriptor, length: Int, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_splice(
            sqe, source.rawValue, -1, destination.rawValue, -1, UInt32(length), ringway_SPLICE_F_MOVE | ringway_SPLICE_F_NONBLOCK)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Completes once `events` (POLLIN, POLLOUT, ...) is ready on `descriptor`; POLLERR, POLLHUP
    /// and POLLRDHUP are always reported.
    @inlinable
    public func preparePoll(descriptor: Descriptor, events: UInt32, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_poll_add(sqe, descriptor.rawValue, events)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Closes a descriptor when the ring takes the request (a socket closes inline, no thread hop).
    /// Only a failure posts a completion: nothing is done with a success (two per connection).
    @inlinable
    public func prepareClose(descriptor: Descriptor, userData: UInt64) {
        let sqe = nextSubmission()
        io_uring_prep_close(sqe, descriptor.rawValue)
        sqe.pointee.flags |= ringway_IOSQE_CQE_SKIP_SUCCESS
        io_uring_sqe_set_data64(sqe, userData)
    }
}

/// What one completion queue entry says, copied out of the shared ring. `result` is where a
/// negated errno becomes a typed `Errno`, once.
public struct Completion: Sendable {
    public let userData: UInt64
    /// Bytes, a descriptor, a count or poll events on success, depending on the operation.
    public let result: Result<Int32, Errno>
    public let flags: UInt32

    @inlinable
    public init(_ entry: UnsafePointer<io_uring_cqe>) {
        self.userData = entry.pointee.user_data
        let value = entry.pointee.res
        self.result = value >= 0 ? .success(value) : .failure(Errno(rawValue: -value))
        self.flags = entry.pointee.flags
    }

    /// A completion as a test's scripted kernel reports it. `buffer`: the provided buffer filled.
    @inlinable
    public init(userData: UInt64, result: Result<Int32, Errno>, buffer: UInt16? = nil, more: Bool = false) {
        self.userData = userData
        self.result = result
        var flags: UInt32 = 0
        if let buffer { flags |= IORING_CQE_F_BUFFER | UInt32(buffer) << IORING_CQE_BUFFER_SHIFT }
        if more { flags |= IORING_CQE_F_MORE }
        self.flags = flags
    }

    /// A multishot request stays armed only while this is set.
    @inlinable
    public var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }

    /// The provided buffer the kernel filled, if any.
    @inlinable
    public var bufferID: UInt16? {
        flags & IORING_CQE_F_BUFFER != 0 ? UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT) : nil
    }

    /// After a receive: the socket still had data when the receive completed.
    @inlinable
    public var socketHasMoreData: Bool { flags & IORING_CQE_F_SOCK_NONEMPTY != 0 }
}
