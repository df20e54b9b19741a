import ProxyProtocol

/// Answers by lowercased name until their TTL runs out, at most `capacity` names; when full, the
/// name cached longest ago goes first.
struct ResolverCache {
    enum Outcome: Equatable {
        case addresses([IPAddress])
        case failure(ResolveFailure.Kind)
    }

    struct Entry {
        var outcome: Outcome
        var expiresAt: UInt64
        var serial: UInt64
    }

    let capacity: Int
    private(set) var entries: [String: Entry] = [:]
    /// Insertion order as (key, serial); a pair whose serial no longer matches its entry is stale.
    private var order: [(key: String, serial: UInt64)] = []
    private var orderStart = 0
    private var nextSerial: UInt64 = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    var count: Int { entries.count }

    /// The entry for `key` and its milliseconds left, if it has not expired.
    mutating func lookup(_ key: String, now: UInt64) -> (outcome: Outcome, remainingMilliseconds: UInt64)? {
        guard let entry = entries[key] else { return nil }
        guard entry.expiresAt > now else {
            entries[key] = nil
            return nil
        }
        return (entry.outcome, entry.expiresAt - now)
    }

    mutating func insert(_ key: String, _ outcome: Outcome, ttlMilliseconds: UInt64, now: UInt64) {
        nextSerial += 1
        entries[key] = Entry(outcome: outcome, expiresAt: now + ttlMilliseconds, serial: nextSerial)
        order.append((key, nextSerial))
        while entries.count > capacity, orderStart < order.count {
            let oldest = order[orderStart]
            orderStart += 1
            if entries[oldest.key]?.serial == oldest.serial { entries[oldest.key] = nil }
        }
        // Drop consumed and stale pairs (names cached again, expired) before they pile up.
        if order.count - orderStart > capacity * 2 || (orderStart > 64 && orderStart * 2 > order.count) {
            order = order[orderStart...].filter { entries[$0.key]?.serial == $0.serial }
            orderStart = 0
        }
    }
}
