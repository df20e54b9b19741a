import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The binary under a service manager's eyes: the test binds the datagram socket systemd would
/// (a path, or an abstract name) and passes it as `NOTIFY_SOCKET`, then checks what arrives:
/// READY=1 when clients are served, RELOADING=1 (with a MONOTONIC_USEC taken after the signal)
/// and READY=1 around each SIGHUP whether the reload applies or is refused, STOPPING=1 at the
/// drain, and STATUS lines whose counts follow the connections.
@Suite("systemd notifications", .serialized)
struct SystemdNotifyEndToEndTests {
    struct Address: CustomTestStringConvertible, Sendable {
        let abstract: Bool
        var testDescription: String { abstract ? "@abstract" : "path" }
    }

    static func configuration(ports: [UInt16], echo: UInt16, metrics: UInt16) -> String {
        var text = "services:\n"
        for (index, port) in ports.enumerated() {
            text += """
                - name: relay-\(index)
                  addr: 127.0.0.1:\(port)
                  handler:
                    type: tcp
                  forwarder:
                    nodes:
                      - name: echo
                        addr: 127.0.0.1:\(echo)

                """
        }
        return text + "metrics:\n  addr: 127.0.0.1:\(metrics)\n"
    }

    /// One round trip through the relay on `port`.
    func echoes(_ port: UInt16, _ text: String = "ping") -> Bool {
        guard let client = try? Sockets.connect(port: port, timeoutSeconds: 5) else { return false }
        defer { close(client) }
        guard (try? Sockets.sendAll(client, text)) != nil else { return false }
        return (try? Sockets.receive(client, exactly: text.utf8.count)) == Array(text.utf8)
    }

    @Test(arguments: [Address(abstract: false), Address(abstract: true)])
    func readyReloadingAndStoppingArriveAsTheyHappen(_ address: Address) throws {
        let notify = try NotifyReceiver(abstract: address.abstract)
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let ports = try freePorts(3)
        let (first, added, metrics) = (ports[0], ports[1], ports[2])
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-notify-e2e-\(getpid())-\(first)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("ringway.yaml")
        try Self.configuration(ports: [first], echo: echo.port, metrics: metrics).write(to: file, atomically: true, encoding: .utf8)

        let ringway = try RingwayProcess(["-C", file.path, "--workers", "2"], environment: ["NOTIFY_SOCKET": notify.name])

        // READY=1 is the first thing systemd hears, and once it has, clients are served: no
        // waiting for log lines here.
        let ready = notify.next(within: 20) { _ in true }
        #expect(ready?.fields["READY"] == "1", "\(notify.received) \(ringway.lines)")
        #expect(ready?.fields["STATUS"] == "1 service, 0 open connections, 0 accepted", "\(ready?.description ?? "none")")
        #expect(echoes(first), "READY=1 came before the relay served clients")

        // STATUS follows the connections: one held open, three more made and closed.
        let held = try Sockets.connect(port: first)
        defer { close(held) }
        try Sockets.sendAll(held, "hold")
        #expect(try Sockets.receive(held, exactly: 4) == Array("hold".utf8))
        for round in 0..<3 { #expect(echoes(first, "round \(round)")) }
        let counted = notify.next(within: 10) { $0.fields["STATUS"] == "1 service, 1 open connection, 5 accepted" }
        #expect(counted != nil, "\(notify.received)")
        #expect(counted.map { !$0.isStateChange } == true)

        // SIGHUP with a second service: RELOADING=1 stamped between the signal and its arrival,
        // then READY=1 once the added service accepts.
        try Self.configuration(ports: [first, added], echo: echo.port, metrics: metrics)
            .write(to: file, atomically: true, encoding: .utf8)
        let beforeSignal = monotonicMicroseconds()
        ringway.signal(SIGHUP)
        let reloading = notify.nextStateChange()
        #expect(reloading?.fields["RELOADING"] == "1", "\(notify.received)")
        let stamp = reloading?.fields["MONOTONIC_USEC"].flatMap { UInt64($0) }
        #expect(stamp.map { beforeSignal <= $0 && $0 <= reloading!.readAt } == true,
                "MONOTONIC_USEC \(stamp.map(String.init) ?? "missing") not within \(beforeSignal)...\(reloading?.readAt ?? 0)")
        let reloaded = notify.nextStateChange()
        #expect(reloaded?.fields["READY"] == "1", "\(notify.received)")
        let reloadedStatus = reloaded?.fields["STATUS"] ?? ""
        // The metrics endpoint is one of the unchanged services, but not one of the counted ones.
        #expect(reloadedStatus.hasPrefix("reloaded (1 added (relay-1), 2 unchanged); 2 services, 1 open connection, "),
                "\(reloadedStatus)")
        #expect(echoes(added))

        // A broken file (a tab indents a line): refused, and READY=1 all the same, since the
        // running configuration goes on serving.
        try "services:\n\t- name: broken\n".write(to: file, atomically: true, encoding: .utf8)
        ringway.signal(SIGHUP)
        let refusing = notify.nextStateChange()
        #expect(refusing?.fields["RELOADING"] == "1", "\(notify.received)")
        let refused = notify.nextStateChange()
        #expect(refused?.fields["READY"] == "1", "\(notify.received)")
        let refusedStatus = refused?.fields["STATUS"] ?? ""
        #expect(refusedStatus.hasPrefix("reload refused, running configuration kept: ") && refusedStatus.contains("tab"),
                "\(refusedStatus)")
        #expect(echoes(first) && echoes(added))

        // SIGTERM: STOPPING=1 as the drain starts; the held connection still relays.
        ringway.signal(SIGTERM)
        let stopping = notify.nextStateChange()
        #expect(stopping?.fields["STOPPING"] == "1", "\(notify.received)")
        // (The last two echo connections may still be closing: the open count is not checked.)
        let stoppingStatus = stopping?.fields["STATUS"] ?? ""
        #expect(stoppingStatus.hasPrefix("draining: 2 services, ") && stoppingStatus.hasSuffix("; what is open after 30s is closed"),
                "\(stoppingStatus)")
        try Sockets.sendAll(held, "still")
        #expect(try Sockets.receive(held, exactly: 5) == Array("still".utf8))
        close(held)
        #expect(ringway.waitForExit() == 0)
        #expect(!ringway.lines.contains { $0.contains("cannot notify") }, "\(ringway.lines)")
    }

    /// The manager's socket is gone (systemd restarted, or NOTIFY_SOCKET names nothing): one
    /// warning, and the relay serves as usual.
    @Test func aNotifySocketThatIsGoneIsOneWarningAndNothingElse() throws {
        let echo = try ScriptedUpstream.echo()
        defer { echo.stop() }
        let port = try freePort()
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-no-notify-\(getpid())").path
        let ringway = try RingwayProcess(
            ["--workers", "1", "-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(echo.port)"], environment: ["NOTIFY_SOCKET": missing])
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")
        let warning = ringway.waitForLine(containing: ["\"level\":\"warn\"", "\"kind\":\"systemd\"", "cannot notify the service manager"])
        #expect(warning?.contains(missing) == true, "\(ringway.lines)")
        #expect(echoes(port))
        ringway.signal(SIGHUP)  // RELOADING=1 and READY=1 fail too, silently
        #expect(ringway.waitForLine(containing: ["\"kind\":\"config\"", "reloaded: nothing changed"]) != nil, "\(ringway.lines)")
        #expect(echoes(port))
        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0)
        #expect(ringway.lines.filter { $0.contains("cannot notify") }.count == 1, "\(ringway.lines)")
    }
}
