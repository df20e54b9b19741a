import CLiburing
import Glibc
import ProxyProtocol

/// Every upstream endpoint of every service, in kernel form, at stable addresses: a connect
/// request points into this table until it completes. Also the per-service connect timeouts the
/// linked timeout requests read.
struct EndpointTable: ~Copyable {
    let endpoints: [IPEndpoint]
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let lengths: UnsafeMutablePointer<socklen_t>
    private let timeouts: UnsafeMutablePointer<__kernel_timespec>
    private let serviceCount: Int

    init(endpoints: [IPEndpoint], connectTimeouts: [Duration]) {
        self.endpoints = endpoints
        addresses = .allocate(capacity: max(endpoints.count, 1))
        lengths = .allocate(capacity: max(endpoints.count, 1))
        for (index, endpoint) in endpoints.enumerated() {
            lengths[index] = endpoint.write(to: addresses + index)
        }
        serviceCount = connectTimeouts.count
        timeouts = .allocate(capacity: max(connectTimeouts.count, 1))
        for (index, timeout) in connectTimeouts.enumerated() {
            let milliseconds = Int64(timeout.milliseconds)
            timeouts[index] = __kernel_timespec(tv_sec: milliseconds / 1000, tv_nsec: milliseconds % 1000 * 1_000_000)
        }
    }

    deinit {
        addresses.deallocate()
        lengths.deallocate()
        timeouts.deallocate()
    }

    func address(_ index: Int) -> (UnsafePointer<sockaddr>, socklen_t) {
        (UnsafeRawPointer(addresses + index).assumingMemoryBound(to: sockaddr.self), lengths[index])
    }

    func connectTimeout(service: Int) -> UnsafeMutablePointer<__kernel_timespec> {
        timeouts + service
    }
}

/// A listening socket of this worker and whether its multishot accept is armed.
struct ListenerState {
    let socket: Int32
    let service: UInt16
    var armed = false
    /// Accepting stopped until this time (ms), after EMFILE/ENFILE; 0 when not paused.
    var retryAt: UInt64 = 0
    /// Accepting stopped because the service reached maxConnections.
    var atLimit = false
    /// Closed during drain.
    var closed = false
}

/// Connections whose receive found the buffer pool empty, in arrival order. Each entry names a
/// slot, its generation at the time, and the direction; stale entries are skipped when served.
struct BufferWaitQueue: ~Copyable {
    private let entries: UnsafeMutablePointer<UInt64>
    private let capacity: Int
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
    }

    deinit {
        entries.deallocate()
    }

    /// Each direction waits at most once (guarded by `Direction.waitingForBuffers`), so
    /// `capacity` of twice the slab never overflows.
    mutating func append(_ entry: UInt64) {
        precondition(count < capacity, "buffer wait queue overflow")
        entries[(head + count) % capacity] = entry
        count += 1
    }

    mutating func removeFirst() -> UInt64 {
        let entry = entries[head]
        head = (head + 1) % capacity
        count -= 1
        return entry
    }
}
