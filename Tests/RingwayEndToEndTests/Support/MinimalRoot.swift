import Foundation
import Glibc
import RingwayTestSupport

/// What `ldd` says a binary loads: one entry per line, the library's name and where it was
/// found (nil for the vDSO, "not found" for a missing one).
struct SharedLibrary: Equatable {
    let name: String
    let path: String?

    static func list(of binary: String) throws -> [SharedLibrary] {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: Peer.path("ldd") ?? "/usr/bin/ldd")
        ldd.arguments = [binary]
        let out = Pipe()
        ldd.standardOutput = out
        ldd.standardError = out
        try ldd.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let first = words.first else { return nil }
            if let arrow = words.firstIndex(of: "=>") {
                let rest = words[(arrow + 1)...]
                let path = rest.first.map { $0.hasPrefix("/") ? $0 : rest.prefix(2).joined(separator: " ") }
                return SharedLibrary(name: first, path: path)
            }
            // The dynamic loader is listed by its path, the vDSO by its name alone.
            let name = first.split(separator: "/").last.map(String.init) ?? first
            return SharedLibrary(name: name, path: first.hasPrefix("/") ? first : nil)
        }
    }
}

struct RootSetupError: Error, CustomStringConvertible {
    let description: String
}

/// A directory to chroot into that holds a binary (at `binaryPath`), those of the shared libraries
/// `ldd` lists for it that `allowed` names (at the paths `ldd` gives), and the files a test
/// writes; nothing else. No Swift toolchain, no -dev package, no /usr. Commands run in a private mount namespace with the
/// kernel's /proc and the host's /dev/null and /dev/zero mounted into the root, as a container
/// runtime provides them; the mounts end with the namespace's last process.
final class MinimalRoot {
    let url: URL
    let libraries: [SharedLibrary]
    let binaryPath: String

    init(binary: String, at binaryPath: String = "/ringway", allowed: Set<String>) throws {
        self.binaryPath = binaryPath
        url = URL(fileURLWithPath: "/tmp/ringway-root-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        libraries = try SharedLibrary.list(of: binary)
        let files = FileManager.default
        try files.createDirectory(at: url, withIntermediateDirectories: true)
        try copy(binary, to: binaryPath)
        for library in libraries where allowed.contains(library.name) {
            guard let path = library.path else { continue }
            guard path.hasPrefix("/") else {
                throw RootSetupError(description: "ldd cannot place \(library.name): \(path)")
            }
            try copy(path, to: path)
        }
        for directory in ["proc", "dev", "etc"] {
            try files.createDirectory(at: url.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        // Mount points for the device bind mounts.
        for device in ["dev/null", "dev/zero"] {
            try Data().write(to: url.appendingPathComponent(device))
        }
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Every regular file in the root, as paths inside it.
    var files: [String] {
        let enumerator = FileManager.default.enumerator(atPath: url.path)
        var found: [String] = []
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.appendingPathComponent(relative).path, isDirectory: &isDirectory),
                !isDirectory.boolValue
            {
                found.append("/" + relative)
            }
        }
        return found.sorted()
    }

    func write(_ path: String, _ text: String) throws {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
    }

    /// The content of `source` (symlinks followed) at `path` inside the root, executable.
    private func copy(_ source: String, to path: String) throws {
        let destination = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        let data = try Data(contentsOf: URL(fileURLWithPath: source).resolvingSymlinksInPath())
        try data.write(to: destination)
        chmod(destination.path, 0o755)
    }

    /// `unshare` and its arguments that run the binary with `arguments` inside the root with an
    /// empty environment: mounts first (without /proc when `withProc` is false), then chroot,
    /// each step exec'ing the next so that the process started is ringway in the end.
    /// `user` ("UID:GID") runs it as that user, as the image's USER does.
    func command(
        _ arguments: [String], withProc: Bool = true, withZero: Bool = true, user: String? = nil
    ) -> (executable: String, arguments: [String]) {
        let mounts = (withProc ? ["mount -t proc proc \"$0/proc\""] : []) + ["mount --bind /dev/null \"$0/dev/null\""]
            + (withZero ? ["mount --bind /dev/zero \"$0/dev/zero\""] : [])
        let chroot = Peer.path("chroot") ?? "/usr/sbin/chroot"
        let userspec = user.map { " --userspec=\($0)" } ?? ""
        let script = "set -e; " + mounts.joined(separator: "; ")
            + "; exec env -i \(chroot)\(userspec) \"$0\" \(binaryPath) \"$@\""
        return (Peer.path("unshare") ?? "/usr/bin/unshare", ["--mount", "--", "/bin/sh", "-c", script, url.path] + arguments)
    }

    /// Runs the binary with `arguments` inside the root to completion (bounded).
    func run(
        _ arguments: [String], withProc: Bool = true, withZero: Bool = true, user: String? = nil, seconds: Double = 20
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let (executable, wrapped) = command(arguments, withProc: withProc, withZero: withZero, user: user)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = wrapped
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        if !becomesTrue(within: seconds, { !process.isRunning }) { process.stop(grace: 5) }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, stdout, stderr)
    }
}
