import RingwayConfig
import Uring

/// The engine's record of which service each slot holds. A slot is a service's identity while
/// it lives: its listening sockets, counters and places are indexed by it. A reload keeps the
/// slot of every service whose listen address is unchanged (so the socket is never closed),
/// takes free slots for new services and retires the slots of removed ones until every worker
/// has let go of them.
struct ServiceSlots {
    enum State: Equatable {
        case free
        case live
        /// Removed by reload `generation`; free again once every worker released it.
        case retired(generation: Int)
    }

    struct Entry {
        var state: State = .free
        /// The service as running, its bound port filled in.
        var config: ServiceConfig?
        /// Its listening sockets, one per worker (the workers close them when it is removed).
        var sockets: [Descriptor] = []
    }

    private(set) var entries: [Entry]
    /// Live slots in the order of the configuration that made them.
    private(set) var order: [Int]

    /// `sockets[i]`: service i's sockets, one per worker.
    init(services: [ServiceConfig], sockets: [[Descriptor]], capacity: Int) {
        entries = Array(repeating: Entry(), count: capacity)
        for (index, service) in services.enumerated() {
            entries[index] = Entry(state: .live, config: service, sockets: sockets[index])
        }
        order = Array(services.indices)
    }

    var liveServices: [ServiceConfig] { order.compactMap { entries[$0].config } }

    /// The listening sockets of every running service, all workers.
    var liveSockets: [Descriptor] { order.flatMap { entries[$0].sockets } }

    /// How `services` differs from what runs: the match is by listen address, since a kept
    /// address is a kept socket.
    func match(_ services: [ServiceConfig]) -> ReloadMatch {
        var match = ReloadMatch()
        var unmatched = Set(order)
        var byAddress: [ListenAddress: Int] = [:]
        for slot in order { if let listen = entries[slot].config?.listen { byAddress[listen] = slot } }
        for (position, service) in services.enumerated() {
            // Port 0 asks for a fresh port: never the one a running service happens to have.
            if service.listen.port != 0, let slot = byAddress.removeValue(forKey: service.listen) {
                unmatched.remove(slot)
                if entries[slot].config == service {
                    match.kept.append((position, slot))
                } else {
                    match.changed.append((position, slot))
                }
            } else {
                match.added.append(position)
            }
        }
        match.removed = order.filter { unmatched.contains($0) }
        return match
    }

    /// Slots whose removal every worker has finished with become free.
    mutating func reclaim(isReleased: (Int) -> Bool) -> [Int] {
        var reclaimed: [Int] = []
        for index in entries.indices {
            if case .retired = entries[index].state, isReleased(index) {
                entries[index] = Entry()
                reclaimed.append(index)
            }
        }
        return reclaimed
    }

    var freeSlots: [Int] { entries.indices.filter { entries[$0].state == .free } }

    /// Records an applied reload: `layout[i]` is the slot of the new configuration's service i;
    /// `opened` the sockets of the slots it added (kept and changed slots keep theirs).
    mutating func commit(
        _ services: [ServiceConfig], layout: [Int], removed: [Int], opened: [Int: [Descriptor]], generation: Int
    ) {
        for slot in removed {
            entries[slot].state = .retired(generation: generation)
            entries[slot].sockets = []
        }
        for (service, slot) in zip(services, layout) {
            entries[slot] = Entry(state: .live, config: service, sockets: opened[slot] ?? entries[slot].sockets)
        }
        order = layout
    }
}

/// Positions in the new configuration and the slots they map to.
struct ReloadMatch {
    var kept: [(position: Int, slot: Int)] = []
    var changed: [(position: Int, slot: Int)] = []
    var added: [Int] = []
    var removed: [Int] = []
}
