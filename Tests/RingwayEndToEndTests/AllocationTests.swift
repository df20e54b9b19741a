import Foundation
import Glibc
import RingwayTestSupport
import Testing

/// Relaying allocates nothing per byte and nothing per connection: buffers, slots, pipes and
/// completions all live in memory set up once. A malloc counter preloaded into the relay counts
/// every heap allocation of the whole run, so a short run and a long run of the same relay must
/// report the same count (start-up and exit allocate alike in both); a malloc per loop turn or
/// per connection shows as hundreds more.
@Suite("Allocations while relaying", .serialized)
struct AllocationTests {
    static let compiler = MallocCounter.compiler

    @Test(.disabled(if: compiler == nil, "no C compiler (clang ships with the Swift toolchain) to build the malloc counter"),
          arguments: [false, true])
    func relayingAllocatesNothingPerByteOrConnection(splice: Bool) throws {
        let counter = try MallocCounter.build()
        let short = try heapAllocations(counter, splice: splice, connections: 2, bytesEach: 256 << 10)
        let long = try heapAllocations(counter, splice: splice, connections: 40, bytesEach: 4 << 20)
        // A little slack for what the runtime may do lazily; a per-turn or per-connection
        // allocation adds hundreds.
        #expect(long >= short && long - short <= 16, "\(short) allocations for 2 small connections, \(long) for 40 larger ones")
    }

    /// Heap allocations of a whole relay run (`--log-level warn`, so connections that end well
    /// log nothing) that echoes `bytesEach` bytes over each of `connections` connections.
    private func heapAllocations(_ counter: String, splice: Bool, connections: Int, bytesEach: Int) throws -> Int {
        let upstream = try ScriptedUpstream.echo()
        defer { upstream.stop() }
        let port = try freePort()
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-mallocs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: report) }
        let relay = try RingwayProcess(
            ["-L", "tcp://127.0.0.1:\(port)/127.0.0.1:\(upstream.port)\(splice ? "?splice=true" : "")",
             "--workers", "1", "--log-level", "warn", "--drain-timeout", "0"],
            environment: ["LD_PRELOAD": counter, "RINGWAY_MALLOC_COUNT_FILE": report.path])
        // At warn level no "listening" line comes: wait for the socket (one probe connection, in both runs alike).
        #expect(waitForListener(port))
        let payload = [UInt8](repeating: 0x5A, count: bytesEach)
        for _ in 0..<connections {
            let client = try Sockets.connect(port: port)
            defer { close(client) }
            Sockets.setTimeouts(client, seconds: 30)
            let sender = Thread { try? Sockets.sendAll(client, payload) }
            sender.start()
            let echoed = try Sockets.receive(client, exactly: bytesEach)
            #expect(echoed.count == bytesEach)
        }
        relay.signal(SIGINT)
        #expect(relay.waitForExit() == 0, "ringway did not exit cleanly: \(relay.lines.suffix(5))")
        guard let text = try? String(contentsOf: report, encoding: .utf8),
              let count = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            Issue.record("the malloc counter wrote no count to \(report.path)")
            return -1
        }
        return count
    }
}

/// A shared library that counts malloc, calloc, realloc and the aligned allocators of the
/// process it is preloaded into, and writes the count to `$RINGWAY_MALLOC_COUNT_FILE` at exit.
/// It calls glibc's own `__libc_*` entry points, so it needs no dlsym (which itself allocates).
enum MallocCounter {
    static let source = """
        #include <stdatomic.h>
        #include <stdio.h>
        #include <stdlib.h>
        extern void *__libc_malloc(size_t);
        extern void *__libc_calloc(size_t, size_t);
        extern void *__libc_realloc(void *, size_t);
        extern void *__libc_memalign(size_t, size_t);
        static atomic_long allocations;
        static void count(void) { atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed); }
        void *malloc(size_t size) { count(); return __libc_malloc(size); }
        void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
        void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
        void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
        void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
        int posix_memalign(void **out, size_t alignment, size_t size) {
            count();
            void *p = __libc_memalign(alignment, size);
            if (!p) return 12;
            *out = p;
            return 0;
        }
        __attribute__((destructor)) static void report(void) {
            long total = atomic_load(&allocations);
            const char *path = getenv("RINGWAY_MALLOC_COUNT_FILE");
            if (!path) return;
            FILE *file = fopen(path, "w");
            if (!file) return;
            fprintf(file, "%ld\\n", total);
            fclose(file);
        }
        """

    /// clang from the Swift toolchain (on PATH next to swift), else the system's cc.
    static var compiler: String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"
        for name in ["clang", "cc", "gcc"] {
            for directory in path.split(separator: ":") + ["/opt/swift/usr/bin", "/usr/bin"] {
                let candidate = "\(directory)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// Compiles the counter into a temporary directory and returns the library's path.
    static func build() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ringway-malloc-counter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let sourcePath = directory.appendingPathComponent("counter.c").path
        let libraryPath = directory.appendingPathComponent("libcounter.so").path
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let compile = Process()
        compile.executableURL = URL(fileURLWithPath: compiler ?? "cc")
        compile.arguments = ["-shared", "-fPIC", "-O2", "-o", libraryPath, sourcePath]
        try compile.run()
        compile.waitUntilExit()
        guard compile.terminationStatus == 0 else {
            throw MallocCounterError(message: "\(compile.executableURL?.path ?? "cc") failed (\(compile.terminationStatus))")
        }
        return libraryPath
    }
}

struct MallocCounterError: Error, CustomStringConvertible {
    let message: String
    var description: String { "cannot build the malloc counter: \(message)" }
}
