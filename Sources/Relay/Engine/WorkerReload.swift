import RingwayConfig
import Uring

/// One worker's part of a reload, as the engine matched old and new services: slots whose
/// service is new (with this worker's freshly bound listening socket), slots whose settings
/// changed (their socket stays), and slots whose service is gone. Services not named here are
/// unchanged.
struct WorkerReload: @unchecked Sendable {
    struct Added {
        let slot: Int
        let config: ServiceConfig
        let socket: Descriptor
        /// Shared by every worker's model of this configuration.
        let health: TargetHealthGroup
    }

    struct Changed {
        let slot: Int
        let config: ServiceConfig
        let health: TargetHealthGroup
    }

    let generation: Int
    let added: [Added]
    let changed: [Changed]
    let removed: [Int]
    let logLevel: LogLevel
}
