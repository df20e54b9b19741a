#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where Ringway looks for a configuration when given neither `-C` nor `-L`.
enum ConfigFileSearch {
    static let names = ["ringway.yaml", "ringway.yml", "ringway.json"]

    /// The first of `names` that is a regular file, directory by directory.
    static func first(in directories: [String]) -> String? {
        for directory in directories {
            for name in names {
                let path = directory.hasSuffix("/") ? directory + name : "\(directory)/\(name)"
                var status = stat()
                if stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG { return path }
            }
        }
        return nil
    }
}
