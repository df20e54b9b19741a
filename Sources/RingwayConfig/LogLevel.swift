/// Log severities, named as GOST names them (`--log-level`, YAML `log.level`).
/// Written by the lead: the engine's event log filters on it.
public enum LogLevel: UInt8, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    case trace
    case debug
    case info
    case warn
    case error
    case fatal

    public init?(name: some StringProtocol) {
        guard let level = LogLevel.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }

    public var description: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        case .fatal: return "fatal"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}
