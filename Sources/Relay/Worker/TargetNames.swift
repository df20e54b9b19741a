import ProxyProtocol
import RingwayConfig

/// A worker's `tcp://` targets written as host names, kept fresh with its resolver: each is
/// looked up again when its answer's TTL runs out (and at the worker's start, which learns the
/// TTL). Lookups that fail keep the known addresses and are tried again a few seconds later.
/// Answers are applied to the endpoint table between loop turns, when no prepared connect still
/// points into it.
struct TargetNames {
    /// Slots each name target reserves in the endpoint table: the most addresses it keeps.
    static let addressesPerName = 16
    /// After a failed lookup, when to try again.
    static let retryMilliseconds: UInt64 = 5000

    struct Entry {
        /// The model whose endpoint-table run this name fills.
        let service: Int
        let targetIndex: Int
        let serviceName: String
        let target: TargetAddress
        var dueAt: UInt64
        var inFlight = false
    }

    var entries: [Entry] = []
    /// Answers waiting to be copied into the endpoint table: entry index, addresses.
    var pending: [(entry: Int, endpoints: [IPEndpoint])] = []
    /// Counts the rebuilds a reload makes: a lookup started before one carries the old number
    /// in its token, and its answer is dropped instead of landing on another entry.
    private(set) var epoch: UInt32 = 0

    init(services: [ServiceConfig], now: UInt64) {
        self.init(models: services.enumerated().map { ($0.offset, $0.element) }, now: now, epoch: 0)
    }

    /// The names of `models` (index, configuration): the models listeners hand out.
    init(models: [(index: Int, config: ServiceConfig)], now: UInt64, epoch: UInt32) {
        self.epoch = epoch
        for (modelIndex, service) in models where service.kind == .forward && service.chain.isEmpty {
            for (targetIndex, target) in service.targets.enumerated() where Self.isName(target.host) {
                entries.append(Entry(service: modelIndex, targetIndex: targetIndex, serviceName: service.name, target: target, dueAt: now))
            }
        }
    }

    func token(entry: Int) -> UInt64 { Self.tokenFlag | UInt64(epoch) << 32 | UInt64(UInt32(entry)) }

    /// The entry a lookup token names, if it is from this epoch.
    func entry(forToken token: UInt64) -> Int? {
        guard UInt32(truncatingIfNeeded: (token & ~Self.tokenFlag) >> 32) == epoch else { return nil }
        let index = Int(UInt32(truncatingIfNeeded: token))
        return entries.indices.contains(index) ? index : nil
    }

    var isEmpty: Bool { entries.isEmpty }

    static func isName(_ host: String) -> Bool { !host.isEmpty && IPAddress(host) == nil }

    /// The most addresses each target of `config` may ever have.
    static func capacities(of config: ServiceConfig) -> [Int] {
        config.targets.map { isName($0.host) ? addressesPerName : $0.resolved.count }
    }

    /// What start-up resolution found, at most `addressesPerName` per name.
    static func initialEndpoints(_ services: [ServiceConfig]) -> [[[IPEndpoint]]] {
        services.map { service in
            service.targets.map { isName($0.host) ? Array($0.resolved.prefix(addressesPerName)) : $0.resolved }
        }
    }

    /// Lookup tokens have the top bit set; a connection's never does (its generation has 24 bits).
    static let tokenFlag: UInt64 = 1 << 63
}
