import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The files in contrib/ say what the README and Ringway's own messages say they do.
@Suite("contrib files")
struct ContribFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// The Kubernetes manifest's ConfigMap holds a configuration Ringway accepts.
    @Test func theKubernetesConfigurationIsValid() throws {
        let lines = try Self.text("contrib/kubernetes/ringway.yaml").split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("  ringway.yaml: |") }) else {
            Issue.record("no ringway.yaml in the ConfigMap")
            return
        }
        let block = lines[(start + 1)...].prefix { $0.hasPrefix("    ") || $0.isEmpty }.map { $0.dropFirst(4) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-contrib-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("ringway.yaml")
        try block.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let result = try runRingway(["-C", file.path, "--check"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("is valid: 1 service"), "\(result.stdout)")
    }

    /// The sysctl.d file the start-up warning names sets exactly the setting it asks for.
    @Test func theSysctlFileSetsWhatTheWarningAsksFor() throws {
        let settings = try Self.text("contrib/sysctl.d/60-ringway.conf").split(separator: "\n")
            .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        #expect(settings == ["net.ipv4.tcp_migrate_req = 1"])
    }
}
