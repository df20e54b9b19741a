import Relay
import RingwayConfig
import RingwayConfigFile

/// Where the configuration comes from: the `-C` file (or the one found in the default places)
/// and the `-L`/`-F` arguments, merged as GOST merges them. Read once at start-up and again on
/// every SIGHUP, so a reload sees exactly what a restart would.
struct ConfigurationSource {
    let command: RingwayCommand
    /// The file to read (nil: the command line alone).
    let filePath: String?

    /// Places searched when neither `-C` nor `-L` is given, in order.
    static let searchDirectories = [".", "/etc/ringway"]

    init(_ command: RingwayCommand) throws(ConfigurationError) {
        self.command = command
        if let path = command.configFile {
            filePath = path
        } else if command.services.isEmpty {
            guard let found = ConfigFile.search(directories: Self.searchDirectories) else {
                throw ConfigurationError(.conflict(
                    "no service given: use -L tcp://:PORT/HOST:PORT, or -C FILE (looked for ringway.yaml, ringway.yml "
                        + "and ringway.json in the working directory and /etc/ringway/); see --help"))
            }
            filePath = found
        } else {
            filePath = nil
        }
    }

    /// Whether SIGHUP can read the configuration again (standard input cannot be re-read).
    var canReload: Bool { filePath != "-" }

    /// Reads the file (if any) and merges the command line into it; validated whole, names not
    /// yet resolved (`resolveTargets()` is the step that may need the network).
    func load() throws(ConfigurationError) -> RingwayConfiguration {
        let file = try filePath.map { path throws(ConfigurationError) in try ConfigFile.load(path: path) }
        let level = command.debug ? LogLevel.debug : try command.logLevel.map { text throws(ConfigurationError) in try LogLevel(parsing: text) }
        let metrics = try command.metrics.map { text throws(ConfigurationError) in try MetricsEndpoint(parsing: text) }
        let drain: Duration
        do {
            drain = try Duration(setting: command.drainTimeout)
        } catch {
            throw ConfigurationError(.conflict("\(error)"), origin: .setting("--drain-timeout \"\(command.drainTimeout)\""))
        }
        return try RingwayConfiguration(
            file: file, serviceURLs: command.services, nodeURLs: command.nodes, workers: command.workers, logLevel: level,
            metrics: metrics, drainTimeout: drain)
    }
}
