import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// The one-file build of scripts/build-static, which scripts/test builds and names in
/// RINGWAY_STATIC_BINARY.
private enum StaticBinary {
    static var path: String {
        ProcessInfo.processInfo.environment["RINGWAY_STATIC_BINARY"] ?? ""
    }

    static var missing: Bool { path.isEmpty }

    /// Nothing of these may be loaded at run time: the Swift toolchain's libraries and the
    /// build's -dev packages are absent where the one file is shipped.
    static let linkedIn = [
        "libswift", "libFoundation", "lib_Foundation", "libdispatch", "libBlocksRuntime", "libicu",
        "liburing", "libcares", "libstdc++", "libgcc_s",
    ]
    /// glibc, which stays dynamic (a static glibc cannot load the NSS modules getaddrinfo uses).
    static let glibc: Set<String> = [
        "linux-vdso.so.1", "libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
    ]
}

/// The shipped binary: it loads only glibc, and it starts and relays in a root that holds only
/// it and those libraries (no Swift runtime anywhere to be found), started as the container
/// image starts it (contrib/container/Containerfile's ENTRYPOINT and CMD).
@Suite(
    "Static binary (scripts/build-static)", .serialized,
    .disabled(if: StaticBinary.missing, "RINGWAY_STATIC_BINARY is not set: scripts/test builds it with scripts/build-static")
)
struct StaticBinaryTests {
    @Test func loadsOnlyGlibc() throws {
        let libraries = try SharedLibrary.list(of: StaticBinary.path)
        #expect(libraries.contains { $0.name == "libc.so.6" }, "ldd lists no libc: \(libraries)")
        for library in libraries {
            #expect(
                !StaticBinary.linkedIn.contains { library.name.hasPrefix($0) },
                "\(library.name) is loaded at run time (from \(library.path ?? "?"))")
            #expect(StaticBinary.glibc.contains(library.name), "\(library.name) => \(library.path ?? "?") is not glibc")
            #expect(library.path.map { $0.hasPrefix("/") && !$0.contains("swift") } ?? true, "\(library.name) => \(library.path ?? "")")
        }
    }

    @Test func relaysInARootWithNothingButItAndGlibc() throws {
        try #require(geteuid() == 0, "chroot and a mount namespace need root")
        let (entrypoint, command, user) = try Containerfile.startCommand()
        #expect(user.map { !$0.hasPrefix("0") && !$0.hasPrefix("root") } ?? false, "the image runs as a user other than root: \(user ?? "none")")
        #expect(command.contains("/etc/ringway/ringway.yaml"), "the image reads /etc/ringway/ringway.yaml: \(command)")
        let root = try MinimalRoot(binary: StaticBinary.path, at: entrypoint, allowed: StaticBinary.glibc)
        let upstream = try ScriptedUpstream.echo()
        defer { upstream.stop() }
        let front = try freePort()
        try root.write("/etc/hosts", "127.0.0.1 upstream.test\n")
        try root.write(
            "/etc/ringway/ringway.yaml",
            """
            services:
            - name: web
              addr: 127.0.0.1:\(front)
              handler:
                type: tcp
              forwarder:
                nodes:
                - name: app
                  addr: upstream.test:\(upstream.port)

            """)
        let libraries = root.libraries.filter { StaticBinary.glibc.contains($0.name) }.compactMap(\.path)
        #expect(
            root.files == (["/dev/null", "/dev/zero", "/etc/hosts", "/etc/ringway/ringway.yaml", entrypoint] + libraries).sorted(),
            "the root holds only the binary, glibc and the test's files")

        // -O reads the file through Yams and Foundation, whose NSRegularExpression is ICU's:
        // the ICU data must be inside the binary, as there is none in the root.
        let rendered = try root.run(command + ["-O", "yaml"], user: user)
        #expect(rendered.status == 0, "\(rendered.stderr)")
        #expect(rendered.stdout.contains("addr: upstream.test:\(upstream.port)"), "\(rendered.stdout)")

        let (executable, arguments) = root.command(command, user: user)
        let ringway = try RingwayProcess(wrapper: executable, arguments)
        #expect(ringway.waitUntilListening(services: 1), "\(ringway.lines)")

        let client = try Sockets.connect(port: front, timeoutSeconds: 5)
        defer { close(client) }
        let payload = (0..<262_144).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        try Sockets.sendAll(client, payload)
        shutdown(client, Int32(SHUT_WR))
        let echoed = try Sockets.receiveAll(client)
        #expect(echoed.count == payload.count)
        #expect(echoed == payload, "the bytes came back altered")
        // The target's name was resolved inside the root, from its /etc/hosts.
        #expect(ringway.waitForLine(containing: ["\"service\":\"web\"", "\"dst\":\"127.0.0.1:\(upstream.port)\""]) != nil, "\(ringway.lines)")

        // It runs as the image's USER.
        let status = (try? String(contentsOfFile: "/proc/\(ringway.process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(whereSeparator: \.isWhitespace).dropFirst().first
        #expect(uid.map(String.init) == user?.split(separator: ":").first.map(String.init), "\(status)")
        // The workers opened the kernel's /dev/zero, which returning idle buffer memory reads.
        #expect(Self.holdsZeroDevice(ringway.process.processIdentifier), "no descriptor of ringway is /dev/zero")

        ringway.signal(SIGTERM)
        #expect(ringway.waitForExit() == 0, "\(ringway.lines)")
    }

    /// Without /proc, Swift's runtime cannot find argv: ringway must say so rather than start
    /// from /etc/ringway/ringway.yaml as if its flags had not been given.
    @Test func refusesToStartWhenItCannotReadItsCommandLine() throws {
        try #require(geteuid() == 0, "chroot and a mount namespace need root")
        let root = try MinimalRoot(binary: StaticBinary.path, allowed: StaticBinary.glibc)
        let port = try freePort()
        try root.write("/etc/ringway/ringway.yaml", "services:\n- name: from-file\n  addr: 127.0.0.1:\(port)\n  handler:\n    type: whoami\n")
        let flags = ["-L", "whoami://127.0.0.1:\(port)", "--check"]

        let blind = try root.run(flags, withProc: false, seconds: 5)
        #expect(blind.status == 1, "\(blind.stderr)")
        #expect(blind.stderr == "ringway: cannot read the command line: Swift's runtime finds it through /proc/self/maps; mount /proc\n")

        let seeing = try root.run(flags)
        #expect(seeing.status == 0, "\(seeing.stderr)")
        #expect(seeing.stdout == "ringway: configuration is valid: 1 service\n", "\(seeing.stdout)")
    }

    /// Without the /dev/zero device (the root's dev/zero is a plain empty file then) idle
    /// receive buffers cannot be handed back: a start-up warning says so instead of silence.
    @Test func warnsWhenDevZeroIsNotTheDevice() throws {
        try #require(geteuid() == 0, "chroot and a mount namespace need root")
        let root = try MinimalRoot(binary: StaticBinary.path, allowed: StaticBinary.glibc)
        let port = try freePort()
        let flags = ["-L", "whoami://127.0.0.1:\(port)", "--log-level", "warn"]
        let without = try root.run(flags, withZero: false, seconds: 2)
        #expect(without.stderr.contains("cannot open /dev/zero"), "\(without.stderr)")
        let with = try root.run(flags, seconds: 2)
        #expect(!with.stderr.contains("/dev/zero"), "\(with.stderr)")
    }

    /// Whether one of `pid`'s descriptors is the character device /dev/zero is (the root's
    /// dev/zero is an empty file until the device is mounted over it).
    static func holdsZeroDevice(_ pid: Int32) -> Bool {
        var zero = stat()
        guard stat("/dev/zero", &zero) == 0 else { return false }
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        return descriptors.contains { name in
            var status = stat()
            return stat("/proc/\(pid)/fd/\(name)", &status) == 0 && status.st_mode & S_IFMT == S_IFCHR
                && status.st_rdev == zero.st_rdev
        }
    }
}

/// contrib/container/Containerfile, read for the command line its image starts.
enum Containerfile {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("contrib/container/Containerfile").path

    /// The ENTRYPOINT's executable and the CMD's arguments (both in exec form), and the USER.
    static func startCommand() throws -> (entrypoint: String, arguments: [String], user: String?) {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        func execForm(_ instruction: String) throws -> [String] {
            guard let line = lines.last(where: { $0.hasPrefix(instruction + " ") }),
                let words = try JSONSerialization.jsonObject(with: Data(line.dropFirst(instruction.count + 1).utf8)) as? [String]
            else { throw RootSetupError(description: "\(path): no \(instruction) in exec form") }
            return words
        }
        let entrypoint = try execForm("ENTRYPOINT")
        guard entrypoint.count == 1, let executable = entrypoint.first else {
            throw RootSetupError(description: "\(path): ENTRYPOINT is \(entrypoint), expected the binary alone")
        }
        let user = lines.last(where: { $0.hasPrefix("USER ") }).map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) }
        return (executable, try execForm("CMD"), user)
    }
}
