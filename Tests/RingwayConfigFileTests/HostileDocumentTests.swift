import RingwayConfig
import RingwayConfigFile
import Testing

/// Files that would take the process down while being read (a reload reads them inside the running
/// relay): they are refused with a placed error instead.
@Suite("Hostile configuration documents")
struct HostileDocumentTests {
    /// Nine anchors, each ten aliases of the one before: a few hundred bytes that stand for 10^9
    /// values. Reading it whole took all memory before the limit.
    @Test func aliasesThatMultiplyAreRefused() {
        var lines = [#"a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]"#]
        for level in 1...8 {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ",") + "]")
        }
        lines.append("services: *a8")
        #expect {
            _ = try ConfigFile.parse(text: lines.joined(separator: "\n"), source: "bomb.yaml")
        } throws: { error in
            "\(error)".hasPrefix("bomb.yaml:1:") && "\(error)".contains("more than 200000 values once its aliases are expanded")
        }
    }

    /// Aliases used sparingly, as people do to share a target list, still work.
    @Test func aFewAliasesStillWork() throws {
        let text = """
            nodes: &nodes
              - name: app
                addr: 127.0.0.1:9000
            services:
              - name: a
                addr: :8001
                handler: {type: tcp}
                forwarder: {nodes: *nodes}

            """
        #expect(throws: ConfigurationError.self) { _ = try ConfigFile.parse(text: text, source: "x.yaml") }
        let valid = """
            services:
              - name: a
                addr: :8001
                handler: {type: tcp}
                forwarder: {nodes: &nodes [{name: app, addr: "127.0.0.1:9000"}]}
              - name: b
                addr: :8002
                handler: {type: tcp}
                forwarder: {nodes: *nodes}

            """
        let file = try ConfigFile.parse(text: valid, source: "x.yaml")
        #expect(file.services.map(\.targets) == [file.services[0].targets, file.services[0].targets])
        #expect(file.services[1].targets.first?.name == "app")
    }

    @Test(arguments: ["services: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000),
                      "services:\n" + (1...100).map { String(repeating: "  ", count: $0) + "- \n" }.joined()])
    func deepNestingIsRefused(_ text: String) {
        #expect(throws: ConfigurationError.self) { _ = try ConfigFile.parse(text: text, source: "deep.yaml") }
    }
}
