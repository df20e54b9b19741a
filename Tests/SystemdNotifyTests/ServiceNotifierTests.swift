import Foundation
import Glibc
import SystemdNotify
import Testing

/// The notifier against a datagram socket the test binds, as systemd does.
@Suite(.serialized) struct ServiceNotifierTests {
    /// A bound AF_UNIX datagram socket; receives with a timeout.
    final class Listener {
        let fd: Int32
        let name: String

        init(abstract: Bool) throws {
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
            name = abstract
                ? "@ringway-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
                : FileManager.default.temporaryDirectory.appendingPathComponent("ringway-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(name.utf8)
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &address.sun_path) { for (index, byte) in bytes.enumerated() { $0[index] = byte } }
            let length = socklen_t(2 + bytes.count + (abstract ? 0 : 1))
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EINVAL) }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            if !name.hasPrefix("@") { unlink(name) }
        }

        func receive() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count < 0 ? nil : String(decoding: buffer[..<count], as: UTF8.self)
        }
    }

    @Test(arguments: [false, true])
    func sendsEachMessageAsOneDatagram(abstract: Bool) throws {
        let listener = try Listener(abstract: abstract)
        let notifier = ServiceNotifier(notifySocket: listener.name)
        #expect(notifier.isEnabled)
        #expect(notifier.send(.ready(status: "1 service")) == nil)
        #expect(notifier.send(.stopping(status: "draining")) == nil)
        #expect(listener.receive() == "READY=1\nSTATUS=1 service\n")
        #expect(listener.receive() == "STOPPING=1\nSTATUS=draining\n")
    }

    @Test func withoutNotifySocketNothingIsSentAndNothingFails() {
        let notifier = ServiceNotifier(notifySocket: nil)
        #expect(!notifier.isEnabled)
        #expect(notifier.send(.ready(status: "x")) == nil)
    }

    /// The manager's socket went away: the first failure is reported (to be logged once as a
    /// warning), the ones after it are not.
    @Test func aSocketThatIsGoneIsReportedOnce() throws {
        var listener: Listener? = try Listener(abstract: false)
        let notifier = ServiceNotifier(notifySocket: listener!.name)
        #expect(notifier.send(.status("a")) == nil)
        listener = nil
        let warning = notifier.send(.status("b"))
        #expect(warning?.contains("NOTIFY_SOCKET=") == true && warning?.contains("ENOENT") == true, "\(warning ?? "nil")")
        #expect(notifier.send(.status("c")) == nil)
        #expect(notifier.send(.ready(status: "d")) == nil)
    }

    @Test func aBadAddressIsReportedOnceAtTheFirstSend() {
        let notifier = ServiceNotifier(notifySocket: "/" + String(repeating: "x", count: 200))
        #expect(notifier.isEnabled)
        let warning = notifier.send(.ready(status: "x"))
        #expect(warning?.contains("at most 107") == true, "\(warning ?? "nil")")
        #expect(notifier.send(.ready(status: "x")) == nil)
    }

    @Test func theMonotonicClockIsCLOCK_MONOTONICInMicroseconds() {
        var before = timespec()
        clock_gettime(CLOCK_MONOTONIC, &before)
        let value = ServiceNotifier.monotonicMicroseconds()
        var after = timespec()
        clock_gettime(CLOCK_MONOTONIC, &after)
        #expect(UInt64(before.tv_sec) * 1_000_000 + UInt64(before.tv_nsec) / 1000 <= value)
        #expect(value <= UInt64(after.tv_sec) * 1_000_000 + UInt64(after.tv_nsec) / 1000)
    }
}
