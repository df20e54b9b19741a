import RingwayConfig

/// The two notations of GOST's configuration file. Both are read the same way (JSON is YAML to
/// libyaml); the format decides only how `-O` prints and how a syntax error is explained.
public enum ConfigFileFormat: String, Sendable, CaseIterable {
    case yaml
    case json
}

/// `-C FILE` and `-O yaml|json`: GOST v3's configuration file read into Ringway's model and
/// printed from it. The schema itself is `GOSTSchema` (in RingwayConfig, Foundation-free); this
/// target adds the file, the YAML parser (Yams) and the two printers.
public enum ConfigFile {
    /// Reads and maps one file (`-` = standard input). Errors are one line:
    /// `FILE:LINE:COLUMN: services[0].handler.type: ...`.
    public static func load(path: String) throws(ConfigurationError) -> FileConfiguration {
        let source = path == "-" ? "stdin" : path
        let bytes = try FileReading.contents(of: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigurationError(.unreadable(reason: "it is not UTF-8 text"), origin: .setting("-C \(source)"))
        }
        return try parse(text: text, source: source)
    }

    /// Maps the text of a file; `source` names it in errors.
    public static func parse(text: String, source: String) throws(ConfigurationError) -> FileConfiguration {
        let root = try YAMLDocument.read(text, source: source)
        return try GOSTSchema.fileConfiguration(from: root, source: source)
    }

    /// The configuration in GOST's schema, as `-O` prints it; `parse` reads the same services back.
    public static func render(_ configuration: RingwayConfiguration, as format: ConfigFileFormat) -> String {
        let document = GOSTSchema.render(configuration)
        switch format {
        case .yaml: return YAMLWriter.write(document)
        case .json: return JSONWriter.write(document)
        }
    }

    /// Without `-C` and `-L`, the file to use: `ringway.yaml`, `ringway.yml`, then `ringway.json`
    /// in each directory in turn (GOST looks for `gost.yml`/`gost.json` the same way).
    public static func search(directories: [String] = [".", "/etc/ringway"]) -> String? {
        ConfigFileSearch.first(in: directories)
    }

    /// JSON when the first thing in the text (after a byte order mark and white space) opens an
    /// object or an array; YAML otherwise. The file's extension does not matter.
    public static func format(of text: String) -> ConfigFileFormat {
        let first = text.unicodeScalars.first {
            !($0 == "\u{FEFF}" || $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r")
        }
        return first == "{" || first == "[" ? .json : .yaml
    }
}
