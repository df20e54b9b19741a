import SystemdNotify
import Testing

/// The datagrams' text: newline-separated assignments, each value on one line.
@Suite struct NotifyMessageTests {
    @Test func readyCarriesAStatusLine() {
        #expect(NotifyMessage.ready(status: "3 services").text == "READY=1\nSTATUS=3 services\n")
    }

    @Test func reloadingCarriesTheMonotonicTime() {
        #expect(NotifyMessage.reloading(monotonicMicroseconds: 1_234_567, status: "reloading").text
            == "RELOADING=1\nMONOTONIC_USEC=1234567\nSTATUS=reloading\n")
    }

    @Test func stoppingAndStatus() {
        #expect(NotifyMessage.stopping(status: "draining").text == "STOPPING=1\nSTATUS=draining\n")
        #expect(NotifyMessage.status("1 service").text == "STATUS=1 service\n")
    }

    /// A line break in a status (an error text, a file name) would start an assignment of its
    /// own, e.g. a READY=1 systemd should not see.
    @Test func lineBreaksInAValueCannotStartAnAssignment() {
        let message = NotifyMessage.ready(status: "reload refused: bad\nREADY=1\r\u{0}x")
        #expect(message.text == "READY=1\nSTATUS=reload refused: bad READY=1  x\n")
        #expect(message.text.split(separator: "\n").count == 2)
    }

    @Test func longStatusTextIsCutOnACharacterBoundary() {
        let status = String(repeating: "é", count: 400)  // 800 bytes
        let value = NotifyMessage.status(status).assignments[0].value
        #expect(value.utf8.count <= NotifyMessage.maximumStatusLength)
        #expect(value.hasSuffix("...") && value.dropLast(3).allSatisfy { $0 == "é" })
        #expect(NotifyMessage.status(String(repeating: "x", count: 512)).assignments[0].value.count == 512)
    }
}
