import RingwayConfig
import Synchronization

/// The engine's record of the health group of each running service slot: made at start-up and by
/// reloads, read by the metrics and handed to the prober. Workers get their groups with their
/// models and never look here.
final class TargetHealthRegistry: @unchecked Sendable {
    private let groups = Mutex<[Int: TargetHealthGroup]>([:])

    init(services: [ServiceConfig]) {
        groups.withLock { table in
            for (slot, service) in services.enumerated() { table[slot] = TargetHealthGroup(service) }
        }
    }

    func group(slot: Int) -> TargetHealthGroup? { groups.withLock { $0[slot] } }

    /// The groups of the running services, in slot order.
    var live: [TargetHealthGroup] {
        groups.withLock { table in table.keys.sorted().compactMap { table[$0] } }
    }

    /// A group for a reload's new or changed `service`: targets the service of the same name
    /// already has (same address and node name) keep their state and counters.
    func makeGroup(for service: ServiceConfig) -> TargetHealthGroup {
        let group = TargetHealthGroup(service)
        if let previous = live.first(where: { $0.serviceName == service.name }) { group.carryOver(from: previous) }
        return group
    }

    /// Records an applied reload: `placed` are the new groups by slot; `removed` slots leave.
    func commit(placed: [(slot: Int, group: TargetHealthGroup)], removed: [Int]) {
        groups.withLock { table in
            for slot in removed { table[slot] = nil }
            for entry in placed { table[entry.slot] = entry.group }
        }
    }
}
