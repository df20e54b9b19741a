import ProxyProtocol
import Uring

/// Every upstream address of every service model (indexed like `ServiceModels`), grouped by
/// target, in kernel form, at stable addresses: the kernel copies a connect's address when it takes the request, so a slot may be
/// rewritten (after a re-resolution) once nothing prepared is waiting to be submitted. Also the
/// per-service connect timeouts the linked timeout requests read.
///
/// Each target owns a fixed run of slots sized for its largest possible answer; `addressCount`
/// says how many of them hold addresses now. Connections go round robin over a service's targets
/// and try a target's addresses in order (127.0.0.1 before ::1 for an empty host, as written).
struct EndpointTable: ~Copyable {
    struct TargetSlots {
        /// First slot of the target's run, and the run's length.
        var first: Int32
        var capacity: Int32
        /// Addresses the target has now (at most `capacity`).
        var count: Int32
    }

    /// Service i's targets are `targets[serviceTargets[i] ..< serviceTargets[i + 1]]`.
    private let serviceTargets: UnsafeMutablePointer<Int32>
    private let targets: UnsafeMutablePointer<TargetSlots>
    private let endpoints: UnsafeMutablePointer<IPEndpoint>
    private let addresses: UnsafeMutablePointer<SocketAddress>
    private let timeouts: UnsafeMutablePointer<Timeout>
    private let serviceCount: Int
    private let targetTotal: Int
    private let slotTotal: Int

    /// `services[i][t]`: target t of service i, its addresses now; `capacities[i][t]`: the most it
    /// may ever have.
    init(services: [[[IPEndpoint]]], capacities: [[Int]], connectTimeouts: [Duration]) {
        serviceCount = capacities.count
        serviceTargets = .allocate(capacity: serviceCount + 1)
        targetTotal = capacities.reduce(0) { $0 + $1.count }
        targets = .allocate(capacity: max(targetTotal, 1))
        var slot: Int32 = 0
        var target = 0
        for (service, list) in capacities.enumerated() {
            serviceTargets[service] = Int32(target)
            for capacity in list {
                targets[target] = TargetSlots(first: slot, capacity: Int32(capacity), count: 0)
                slot += Int32(capacity)
                target += 1
            }
        }
        serviceTargets[serviceCount] = Int32(target)
        slotTotal = Int(slot)
        endpoints = .allocate(capacity: max(slotTotal, 1))
        endpoints.initialize(repeating: IPEndpoint(address: .v4(.any), port: 0), count: max(slotTotal, 1))
        addresses = .allocate(capacity: max(slotTotal, 1))
        addresses.initialize(repeating: SocketAddress(), count: max(slotTotal, 1))
        timeouts = .allocate(capacity: max(connectTimeouts.count, 1))
        for (index, timeout) in connectTimeouts.enumerated() {
            (timeouts + index).initialize(to: Timeout(milliseconds: timeout.milliseconds))
        }
        for (service, list) in services.enumerated() { replace(service: service, with: list) }
    }

    deinit {
        serviceTargets.deallocate()
        targets.deallocate()
        endpoints.deinitialize(count: max(slotTotal, 1))
        endpoints.deallocate()
        addresses.deallocate()
        timeouts.deallocate()
    }

    /// How many targets `service` has.
    func targetCount(service: Int) -> Int { Int(serviceTargets[service + 1] - serviceTargets[service]) }

    /// How many addresses target `target` of `service` has now.
    func addressCount(service: Int, target: Int) -> Int { Int(slots(service, target).count) }

    func endpoint(service: Int, target: Int, address: Int) -> IPEndpoint {
        endpoints[Int(slots(service, target).first) + address]
    }

    func address(service: Int, target: Int, address: Int) -> UnsafePointer<SocketAddress> {
        UnsafePointer(addresses + Int(slots(service, target).first) + address)
    }

    func connectTimeout(service: Int) -> UnsafeMutablePointer<Timeout> {
        timeouts + service
    }

    /// Every target's addresses now (a reload carries them into its new table).
    func currentAddresses(service: Int) -> [[IPEndpoint]] {
        guard service < serviceCount else { return [] }
        return (0..<targetCount(service: service)).map { target in
            (0..<addressCount(service: service, target: target)).map { endpoint(service: service, target: target, address: $0) }
        }
    }

    /// Only while no prepared connect is waiting to be submitted. `list[t]`: target t's addresses.
    mutating func replace(service: Int, with list: [[IPEndpoint]]) {
        for (offset, addresses) in list.enumerated() where offset < targetCount(service: service) {
            let target = targets + Int(serviceTargets[service]) + offset
            let kept = addresses.prefix(Int(target.pointee.capacity))
            for (index, endpoint) in kept.enumerated() {
                let slot = Int(target.pointee.first) + index
                endpoints[slot] = endpoint
                self.addresses[slot] = endpoint.socketAddress
            }
            target.pointee.count = Int32(kept.count)
        }
    }

    /// One target's addresses; the same condition.
    mutating func replace(service: Int, target: Int, with list: [IPEndpoint]) {
        let slots = targets + Int(serviceTargets[service]) + target
        let kept = list.prefix(Int(slots.pointee.capacity))
        for (index, endpoint) in kept.enumerated() {
            let slot = Int(slots.pointee.first) + index
            endpoints[slot] = endpoint
            addresses[slot] = endpoint.socketAddress
        }
        slots.pointee.count = Int32(kept.count)
    }

    private func slots(_ service: Int, _ target: Int) -> TargetSlots {
        targets[Int(serviceTargets[service]) + target]
    }
}
