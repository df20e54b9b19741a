@_spi(Fuzzing) import Relay
import Testing

@Suite("Handshake: host names")
struct HandshakeHostNameTests {
    func check(_ text: String) -> HostName.Problem? {
        parsed(bytes(text)) { HostName.check($0) }
    }

    @Test(arguments: ["localhost", "example.com", "example.com.", "a-b_c.d9", "xn--bcher-kva.example", "0x.example",
        "1.2.3.example", "123abc", String(repeating: "a", count: 63) + ".b"])
    func valid(name: String) {
        #expect(check(name) == nil)
    }

    @Test(arguments: [
        ("", HostName.Problem.empty), (".", .emptyLabel), (".a", .emptyLabel), ("a..b", .emptyLabel), ("a.b..", .emptyLabel),
        ("a b", .badByte), ("a\u{0}b", .badByte), ("a/b", .badByte), ("a:1", .badByte), ("bücher", .badByte),
        (String(repeating: "a", count: 64), .labelTooLong), ("1.2.3", .numeric), ("127.1", .numeric),
        ("0x7f000001", .numeric), ("a.0X1F", .numeric), ("4294967295", .numeric), ("10.0.0.1.", .numeric),
    ])
    func invalid(name: String, problem: HostName.Problem) {
        #expect(check(name) == problem)
    }

    @Test func lengthLimit() {
        let label = String(repeating: "a", count: 63)
        let longest = [label, label, label, String(repeating: "b", count: 63)].joined(separator: ".")  // 255
        #expect(check(longest) == nil)
        #expect(check(longest + "b") == .tooLong)
    }
}
