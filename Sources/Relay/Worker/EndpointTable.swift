import CLiburing
import Glibc
import ProxyProtocol

/// Every upstream endpoint of every service, in kernel form, at stable addresses: the kernel
/// copies a connect's address when it takes the request, so a slot may be rewritten (after a
/// re-resolution) once nothing prepared is waiting to be submitted. Also the per-service connect
/// timeouts the linked timeout requests read.
///
/// Each service owns a fixed run of slots sized for its largest possible answer; `count(service:)`
/// says how many of them hold endpoints now.
struct EndpointTable: ~Copyable {
    private(set) var endpoints: [IPEndpoint]
    private let first: [Int]
    private let capacities: [Int]
    private var counts: [Int]
    private let addresses: UnsafeMutablePointer<sockaddr_storage>
    private let lengths: UnsafeMutablePointer<socklen_t>
    private let timeouts: UnsafeMutablePointer<__kernel_timespec>

    /// `services[i]`: service i's endpoints now; `capacities[i]`: the most it may ever have.
    init(services: [[IPEndpoint]], capacities: [Int], connectTimeouts: [Duration]) {
        var first: [Int] = []
        var total = 0
        for capacity in capacities {
            first.append(total)
            total += capacity
        }
        self.first = first
        self.capacities = capacities
        counts = Array(repeating: 0, count: capacities.count)
        endpoints = Array(repeating: IPEndpoint(address: .v4(.any), port: 0), count: total)
        addresses = .allocate(capacity: max(total, 1))
        lengths = .allocate(capacity: max(total, 1))
        lengths.initialize(repeating: 0, count: max(total, 1))
        timeouts = .allocate(capacity: max(connectTimeouts.count, 1))
        for (index, timeout) in connectTimeouts.enumerated() {
            let milliseconds = Int64(timeout.milliseconds)
            timeouts[index] = __kernel_timespec(tv_sec: milliseconds / 1000, tv_nsec: milliseconds % 1000 * 1_000_000)
        }
        for (service, list) in services.enumerated() { replace(service: service, with: list) }
    }

    deinit {
        addresses.deallocate()
        lengths.deallocate()
        timeouts.deallocate()
    }

    /// Endpoints `service` has now.
    func count(service: Int) -> Int { counts[service] }

    func endpoint(service: Int, _ index: Int) -> IPEndpoint { endpoints[first[service] + index] }

    func address(service: Int, _ index: Int) -> (UnsafePointer<sockaddr>, socklen_t) {
        let slot = first[service] + index
        return (UnsafeRawPointer(addresses + slot).assumingMemoryBound(to: sockaddr.self), lengths[slot])
    }

    func connectTimeout(service: Int) -> UnsafeMutablePointer<__kernel_timespec> {
        timeouts + service
    }

    /// Only while no prepared connect is waiting to be submitted.
    mutating func replace(service: Int, with list: [IPEndpoint]) {
        let kept = list.prefix(capacities[service])
        for (offset, endpoint) in kept.enumerated() {
            let slot = first[service] + offset
            endpoints[slot] = endpoint
            lengths[slot] = endpoint.write(to: addresses + slot)
        }
        counts[service] = kept.count
    }
}
