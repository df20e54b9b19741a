import SystemdNotify
import Testing

/// `$NOTIFY_SOCKET` as systemd writes it: an absolute path or an `@abstract` name, each at most
/// 107 bytes (sun_path's 108 less one NUL), and nothing else.
@Suite struct NotifySocketAddressTests {
    @Test func anAbsolutePathIsAFilesystemSocket() throws {
        #expect(try NotifySocketAddress("/run/systemd/notify") == .path("/run/systemd/notify"))
    }

    @Test func anAtSignNamesAnAbstractSocketWithoutIt() throws {
        #expect(try NotifySocketAddress("@/org/freedesktop/systemd1/notify/42") == .abstract("/org/freedesktop/systemd1/notify/42"))
    }

    @Test func namesUpTo107BytesFitAndOneMoreIsTooLong() throws {
        let path = "/" + String(repeating: "p", count: 106)
        #expect(try NotifySocketAddress(path) == .path(path))
        #expect(throws: NotifySocketAddressError.tooLong(path + "p", bytes: 108, limit: 107)) {
            try NotifySocketAddress(path + "p")
        }
        let name = String(repeating: "a", count: 107)
        #expect(try NotifySocketAddress("@" + name) == .abstract(name))
        #expect(throws: NotifySocketAddressError.tooLong("@" + name + "a", bytes: 108, limit: 107)) {
            try NotifySocketAddress("@" + name + "a")
        }
    }

    @Test func lengthIsCountedInBytesNotCharacters() {
        // 54 two-byte characters: 108 bytes.
        let path = "/" + String(repeating: "é", count: 53) + "x"
        #expect(throws: NotifySocketAddressError.tooLong(path, bytes: 108, limit: 107)) { try NotifySocketAddress(path) }
    }

    @Test(arguments: ["", "@"])
    func anEmptyNameIsRefused(_ value: String) {
        #expect(throws: NotifySocketAddressError.empty) { try NotifySocketAddress(value) }
    }

    @Test func aRelativePathIsRefused() {
        #expect(throws: NotifySocketAddressError.notAbsolute("run/notify")) { try NotifySocketAddress("run/notify") }
    }

    @Test func vsockAddressesAreNamedAsUnsupported() {
        #expect(throws: NotifySocketAddressError.unsupportedFamily("vsock:2:1234")) { try NotifySocketAddress("vsock:2:1234") }
    }

    @Test func aNULByteIsRefused() {
        #expect(throws: NotifySocketAddressError.containsNUL) { try NotifySocketAddress("/run/a\u{0}b") }
    }

    @Test func errorsSayWhatIsWrong() {
        let text = NotifySocketAddressError.tooLong("/x", bytes: 120, limit: 107).description
        #expect(text.contains("120 bytes") && text.contains("at most 107"))
    }
}
