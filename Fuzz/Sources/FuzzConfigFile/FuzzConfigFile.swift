import HarnessSupport
import RingwayConfig
import RingwayConfigFile

/// Configuration files (`-C`): YAML or JSON through Yams into GOST's schema, the merge with an empty
/// command line, and `-O` rendering back. The input is decoded as UTF-8 with invalid sequences
/// replaced (the loader refuses invalid UTF-8 before this point).
///
/// Never a crash; an error has a description; a configuration that loads renders (YAML and JSON) to text
/// that loads back, rendering is then a fixpoint, and what loads back is the same configuration once the
/// first rendering has given unnamed targets, hops and chains GOST's default names.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    let configuration: RingwayConfiguration
    do {
        let file = try ConfigFile.parse(text: text, source: "fuzz.yaml")
        configuration = try RingwayConfiguration(file: file, serviceURLs: [], nodeURLs: [])
    } catch {
        invariant(!error.description.isEmpty, "an error without a description: \(error.problem)")
        return 0
    }
    for format in ConfigFileFormat.allCases {
        let rendered = ConfigFile.render(configuration, as: format)
        do {
            let again = try load(rendered)
            invariant(ConfigFile.render(again, as: format) == rendered, "\(format) rendering is not a fixpoint:\n\(rendered)")
            invariant(
                withoutDefaultNames(again.services) == withoutDefaultNames(configuration.services),
                "\(format) output loads to other services:\n\(rendered)")
        } catch {
            invariant(false, "\(format) output does not load back (\(error)):\n\(rendered)")
        }
    }
    return 0
}

private func load(_ text: String) throws(ConfigurationError) -> RingwayConfiguration {
    try RingwayConfiguration(file: try ConfigFile.parse(text: text, source: "rendered"), serviceURLs: [], nodeURLs: [])
}

/// Node, hop and chain names dropped: rendering names what was unnamed.
private func withoutDefaultNames(_ services: [ServiceConfig]) -> [ServiceConfig] {
    services.map { service in
        var copy = service
        copy.chainName = nil
        for index in copy.targets.indices { copy.targets[index].name = nil }
        for index in copy.chainTargets.indices { copy.chainTargets[index].name = nil }
        for hop in copy.chain.indices {
            copy.chain[hop].name = nil
            for node in copy.chain[hop].targets.indices { copy.chain[hop].targets[node].name = nil }
        }
        return copy
    }
}

@main
enum FuzzConfigFileMain {
    static func main() { runLibFuzzer(fuzz) }
}
