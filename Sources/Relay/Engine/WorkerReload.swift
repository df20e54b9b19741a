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
        /// Shared by every worker's model of this configuration (a worker on its own makes one).
        let health: TargetHealthGroup

        init(slot: Int, config: ServiceConfig, socket: Descriptor, health: TargetHealthGroup? = nil) {
            self.slot = slot
            self.config = config
            self.socket = socket
            self.health = health ?? TargetHealthGroup(config)
        }
    }

    struct Changed {
        let slot: Int
        let config: ServiceConfig
        let health: TargetHealthGroup

        init(slot: Int, config: ServiceConfig, health: TargetHealthGroup? = nil) {
            self.slot = slot
            self.config = config
            self.health = health ?? TargetHealthGroup(config)
        }
    }

    let generation: Int
    let added: [Added]
    let changed: [Changed]
    let removed: [Int]
    let logLevel: LogLevel
}
