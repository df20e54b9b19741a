import RingwayConfig

/// A worker's service settings, one model per configuration a connection may be running on. A
/// reload that changes a service adds a model for new connections and leaves the old one to the
/// connections that started on it; a model is freed when no listener hands it out and its last
/// connection has closed. Connections name their model by index, so the table only grows
/// (between loop turns, when no handler holds a pointer into it).
struct ServiceModels: ~Copyable {
    private var models: UnsafeMutablePointer<ServiceModel>
    private(set) var capacity: Int
    /// Per model: its configuration (nil: the index is free), the connections using it, and
    /// whether a listener gives it to new connections.
    private(set) var configs: [ServiceConfig?]
    private var connections: UnsafeMutablePointer<Int32>
    private var current: [Bool]
    /// Per model: the target the next connection starts at, and through a chain the destination
    /// the next connection asks the last hop for.
    private(set) var roundRobin: UnsafeMutablePointer<UInt32>
    private(set) var chainRoundRobin: UnsafeMutablePointer<UInt32>
    /// Per model: the health group its targets share with the other workers (the model's view
    /// points into it, so it stays while the model does).
    private(set) var healthGroups: [TargetHealthGroup?]

    /// Models 0..<n for the start-up services, model i serving service slot i with `health[i]`.
    init(_ services: [ServiceConfig], health: [TargetHealthGroup]) {
        capacity = max(services.count, 4)
        models = .allocate(capacity: capacity)
        connections = .allocate(capacity: capacity)
        connections.initialize(repeating: 0, count: capacity)
        roundRobin = .allocate(capacity: capacity)
        roundRobin.initialize(repeating: 0, count: capacity)
        chainRoundRobin = .allocate(capacity: capacity)
        chainRoundRobin.initialize(repeating: 0, count: capacity)
        configs = Array(repeating: nil, count: capacity)
        current = Array(repeating: false, count: capacity)
        healthGroups = Array(repeating: nil, count: capacity)
        for (index, config) in services.enumerated() {
            (models + index).initialize(to: ServiceModel(slot: index, config: config, health: health[index].view))
            configs[index] = config
            current[index] = true
            healthGroups[index] = health[index]
        }
    }

    deinit {
        for index in 0..<capacity where configs[index] != nil { (models + index).deinitialize(count: 1) }
        models.deallocate()
        connections.deallocate()
        roundRobin.deallocate()
        chainRoundRobin.deallocate()
    }

    @inline(__always)
    subscript(_ model: UInt16) -> UnsafeMutablePointer<ServiceModel> { models + Int(model) }

    /// Indices that hold a model.
    var occupied: [Int] { configs.indices.filter { configs[$0] != nil } }

    /// Indices a listener hands out.
    var currentModels: [Int] { configs.indices.filter { current[$0] } }

    /// A model for `config` serving service `slot`, handed out from now on. Only between loop
    /// turns: growing moves every model.
    mutating func add(_ config: ServiceConfig, slot: Int, health: TargetHealthGroup) -> UInt16 {
        let index = configs.firstIndex { $0 == nil } ?? grow()
        (models + index).initialize(to: ServiceModel(slot: slot, config: config, health: health.view))
        configs[index] = config
        healthGroups[index] = health
        current[index] = true
        connections[index] = 0
        roundRobin[index] = 0
        chainRoundRobin[index] = 0
        return UInt16(index)
    }

    /// A connection started on `model`.
    @inline(__always)
    func retain(_ model: UInt16) {
        connections[Int(model)] += 1
    }

    /// A connection on `model` ended; a model nobody hands out goes with its last connection.
    @inline(__always)
    mutating func release(_ model: UInt16) {
        connections[Int(model)] -= 1
        if connections[Int(model)] == 0 && !current[Int(model)] { free(Int(model)) }
    }

    /// No listener hands `model` out any more; it stays while connections use it.
    mutating func retire(_ model: UInt16) {
        current[Int(model)] = false
        if connections[Int(model)] == 0 { free(Int(model)) }
    }

    private mutating func free(_ index: Int) {
        guard configs[index] != nil else { return }
        (models + index).deinitialize(count: 1)
        configs[index] = nil
        healthGroups[index] = nil
    }

    /// Doubles every per-model array; returns the first new index.
    private mutating func grow() -> Int {
        let old = capacity
        let newCapacity = old * 2
        let newModels = UnsafeMutablePointer<ServiceModel>.allocate(capacity: newCapacity)
        for index in 0..<old where configs[index] != nil {
            (newModels + index).moveInitialize(from: models + index, count: 1)
        }
        models.deallocate()
        models = newModels
        connections = Self.grown(connections, from: old, to: newCapacity)
        roundRobin = Self.grown(roundRobin, from: old, to: newCapacity)
        chainRoundRobin = Self.grown(chainRoundRobin, from: old, to: newCapacity)
        configs += Array(repeating: nil, count: newCapacity - old)
        healthGroups += Array(repeating: nil, count: newCapacity - old)
        current += Array(repeating: false, count: newCapacity - old)
        capacity = newCapacity
        return old
    }

    private static func grown<T: BinaryInteger>(_ pointer: UnsafeMutablePointer<T>, from old: Int, to new: Int) -> UnsafeMutablePointer<T> {
        let bigger = UnsafeMutablePointer<T>.allocate(capacity: new)
        bigger.moveInitialize(from: pointer, count: old)
        (bigger + old).initialize(repeating: 0, count: new - old)
        pointer.deallocate()
        return bigger
    }
}
