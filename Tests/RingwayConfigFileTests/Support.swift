import RingwayConfig
import RingwayConfigFile

/// The error a throwing call reports, or nil when it succeeds.
func failure<T>(_ body: () throws(ConfigurationError) -> T) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// `text` read as the file `ringway.yaml`.
func parse(_ text: String) throws(ConfigurationError) -> FileConfiguration {
    try ConfigFile.parse(text: text, source: "ringway.yaml")
}

/// The configuration `text` makes on its own (`ringway -C`).
func configuration(_ text: String) throws(ConfigurationError) -> RingwayConfiguration {
    try RingwayConfiguration(file: try parse(text))
}

/// The services and process settings of a configuration, without names given to unnamed
/// chains, hops and nodes (those a first render names), for comparing a file with a command line.
func unnamed(_ configuration: RingwayConfiguration) -> RingwayConfiguration {
    var copy = configuration
    copy.services = copy.services.map { service in
        var service = service
        service.chainName = nil
        service.targets = service.targets.map {
            var t = $0
            t.name = nil
            return t
        }
        service.chainTargets = service.chainTargets.map {
            var t = $0
            t.name = nil
            return t
        }
        service.chain = service.chain.map { hop in
            var hop = hop
            hop.name = nil
            hop.targets = hop.targets.map {
                var t = $0
                t.name = nil
                return t
            }
            return hop
        }
        return service
    }
    copy.serviceOrigins = [:]
    copy.fileOrigins = [:]
    copy.metricsOrigin = nil
    copy.warnings = []
    return copy
}
