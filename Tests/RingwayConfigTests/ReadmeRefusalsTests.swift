import Foundation
import RingwayConfig
import Testing

/// Every GOST key, misspelling and scheme the README promises to refuse with a hint is refused
/// that way: the README's paragraph is the table.
@Suite("README refusals")
struct ReadmeRefusalsTests {
    static let paragraph: String = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.components(separatedBy: "GOST options Ringway does not implement").dropFirst().first?
            .components(separatedBy: "\n\n").first ?? ""
    }()

    /// The backticked words of `part`, split at `/`.
    static func words(_ part: String) -> [String] {
        part.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }
            .flatMap { $0.element.components(separatedBy: "/") }.filter { !$0.isEmpty }
    }

    func refusal(_ url: String) -> String {
        problem { () throws(ConfigurationError) in try ServiceURL.parse(url) }?.description ?? "accepted"
    }

    @Test func everyListedGOSTKeyIsRefusedWithAHint() throws {
        let keysPart = try #require(Self.paragraph.components(separatedBy: "Other unknown keys").first)
        let keys = Self.words(keysPart)
        #expect(keys.count >= 25, "the README paragraph was not found: \(keys)")
        for key in keys {
            // `limiter.` and friends: anything under them.
            let written = key.hasSuffix(".") ? key + "rate" : key
            let message = refusal("tcp://:8080/x:80?\(written)=1")
            #expect(message.contains("is a GOST option Ringway does not support"), "\(written): \(message)")
        }
    }

    @Test func listedMisspellingsGetADidYouMean() throws {
        let part = try #require(Self.paragraph.components(separatedBy: "such as").dropFirst().first?
            .components(separatedBy: "Schemes").first)
        let misspellings = Self.words(part)
        #expect(misspellings == ["maxconn", "connectTimeout"])
        for key in misspellings {
            let message = refusal("tcp://:8080/x:80?\(key)=1")
            #expect(message.contains("(did you mean "), "\(key): \(message)")
        }
    }

    @Test func listedSchemesAreRefusedWithWhatGOSTMakesOfThem() throws {
        let part = try #require(Self.paragraph.components(separatedBy: "Schemes GOST knows").dropFirst().first)
        let schemes = Self.words(part)
        #expect(schemes.count >= 5)
        for scheme in schemes {
            let message = refusal("\(scheme)://:8080/x:80")
            #expect(message.contains("scheme \(scheme) ("), "\(scheme): \(message)")
        }
    }
}
