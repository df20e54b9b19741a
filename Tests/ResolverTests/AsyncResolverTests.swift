import Glibc
import ProxyProtocol
import Testing
import RingwayTestSupport

@testable import Resolver

@Suite("AsyncResolver")
struct AsyncResolverTests {
    static let v4a = IPv4Address(192, 0, 2, 10)
    static let v4b = IPv4Address(192, 0, 2, 11)
    static let v6a = IPv6Address(high: 0x2001_0db8_0000_0000, low: 1)

    func options(_ server: FakeDNSServer, timeout: Int = 1000, tries: Int = 2) -> ResolverOptions {
        ResolverOptions(servers: [server.address], timeoutMilliseconds: timeout, tries: tries)
    }

    func answer(_ result: Result<Answer, ResolveFailure>?) -> Answer? {
        if case .success(let answer) = result { return answer }
        return nil
    }

    func failure(_ result: Result<Answer, ResolveFailure>?) -> ResolveFailure? {
        if case .failure(let failure) = result { return failure }
        return nil
    }

    @Test func answersAAndAAAAWithIPv4First() throws {
        let server = try FakeDNSServer([
            "a.ringway.test": .init(v4: [Self.v4a, Self.v4b], v6: [Self.v6a], v4TTL: 300, v6TTL: 120),
            "v6only.ringway.test": .init(v6: [Self.v6a]),
        ])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        #expect(driver.resolve("a.ringway.test", token: 1) == .started)
        #expect(driver.resolve("v6only.ringway.test", token: 2) == .started)
        #expect(driver.resolver.pendingQueries == 2)
        #expect(!driver.watched.isEmpty, "c-ares asked to watch its UDP socket")
        #expect(driver.wait(for: [1, 2]))
        let both = try #require(answer(driver.results[1]))
        #expect(both.addresses == [.v4(Self.v4a), .v4(Self.v4b), .v6(Self.v6a)])
        #expect(both.ttlSeconds == 120, "the smallest TTL of the answer")
        #expect(answer(driver.results[2])?.addresses == [.v6(Self.v6a)])
        #expect(server.queries("a.ringway.test", "A") == 1)
        #expect(server.queries("a.ringway.test", "AAAA") == 1)
        #expect(driver.resolver.pendingQueries == 0)
        #expect(driver.resolver.nextTimeoutMilliseconds == nil)
        #expect(driver.watched.isEmpty || driver.watched.values.allSatisfy { !$0.wantsWrite })
    }

    @Test func keepsAtMostSixteenAddresses() throws {
        let many = (1...12).map { IPv4Address(198, 51, 100, UInt8($0)) }
        let many6 = (1...8).map { IPv6Address(high: 0x2001_0db8_0000_0001, low: UInt64($0)) }
        let server = try FakeDNSServer(["many.ringway.test": .init(v4: many, v6: many6)])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        _ = driver.resolve("many.ringway.test", token: 7)
        #expect(driver.wait(for: [7]))
        let addresses = try #require(answer(driver.results[7])).addresses
        #expect(addresses == many.map { .v4($0) } + many6.prefix(4).map { .v6($0) })
    }

    @Test func clampsTTLs() throws {
        let server = try FakeDNSServer([
            "zero.ringway.test": .init(v4: [Self.v4a], v4TTL: 0, v6TTL: 0),
            "day.ringway.test": .init(v4: [Self.v4a], v4TTL: 86400, v6TTL: 86400),
        ])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        _ = driver.resolve("zero.ringway.test", token: 1)
        _ = driver.resolve("day.ringway.test", token: 2)
        #expect(driver.wait(for: [1, 2]))
        #expect(answer(driver.results[1])?.ttlSeconds == 1)
        #expect(answer(driver.results[2])?.ttlSeconds == 3600)
    }

    @Test func cachesForTheTTLThenAsksAgain() throws {
        let server = try FakeDNSServer(["short.ringway.test": .init(v4: [Self.v4a], v4TTL: 1, v6TTL: 1)])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        #expect(driver.resolve("short.ringway.test", token: 1) == .started)
        #expect(driver.wait(for: [1]))
        #expect(answer(driver.results[1]) == Answer(addresses: [.v4(Self.v4a)], ttlSeconds: 1))
        #expect(server.queries("short.ringway.test", "A") == 1)

        // Within the TTL: from the cache, any case, no query.
        #expect(driver.resolve("SHORT.ringway.test", token: 2) == .answered(Answer(addresses: [.v4(Self.v4a)], ttlSeconds: 1)))
        #expect(server.queries("short.ringway.test") == 2)

        usleep(1_200_000)
        #expect(driver.resolve("short.ringway.test", token: 3) == .started)
        #expect(driver.wait(for: [3]))
        #expect(answer(driver.results[3])?.addresses == [.v4(Self.v4a)])
        #expect(server.queries("short.ringway.test", "A") == 2)
        #expect(driver.reported == [1, 3], "cache hits are answered by resolve, not drainAnswers")
    }

    @Test func cachesNegativeAnswers() throws {
        let server = try FakeDNSServer(["empty.ringway.test": .init()])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        _ = driver.resolve("missing.ringway.test", token: 1)
        _ = driver.resolve("empty.ringway.test", token: 2)
        #expect(driver.wait(for: [1, 2]))
        let missing = try #require(failure(driver.results[1]))
        #expect(missing.kind == .notFound)
        #expect(missing.description.contains("missing.ringway.test"))
        let empty = try #require(failure(driver.results[2]))
        #expect(empty.kind == .noAddresses)
        #expect(empty.description.contains("empty.ringway.test"))
        let asked = server.totalQueries

        #expect(driver.resolve("Missing.ringway.test", token: 3)
            == .failed(ResolveFailure(name: "Missing.ringway.test", kind: .notFound)))
        #expect(driver.resolve("empty.ringway.test", token: 4)
            == .failed(ResolveFailure(name: "empty.ringway.test", kind: .noAddresses)))
        #expect(server.totalQueries == asked)
        #expect(driver.resolver.pendingQueries == 0)
    }

    @Test func coalescesConcurrentLookups() throws {
        let server = try FakeDNSServer(["busy.ringway.test": .init(v4: [Self.v4a], v6: [Self.v6a])])
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        for token in UInt64(1)...10 {
            let name = token.isMultiple(of: 2) ? "BUSY.ringway.test" : "busy.ringway.test"
            #expect(driver.resolve(name, token: token) == .started)
        }
        #expect(driver.resolver.pendingQueries == 1)
        #expect(driver.wait(for: 1...10))
        #expect(driver.reported.sorted() == Array(1...10))
        for token in UInt64(1)...10 {
            #expect(answer(driver.results[token])?.addresses == [.v4(Self.v4a), .v6(Self.v6a)])
        }
        #expect(server.queries("busy.ringway.test", "A") == 1)
        #expect(server.queries("busy.ringway.test", "AAAA") == 1)
    }

    @Test func timesOutWhenNoServerAnswers() throws {
        let server = try FakeDNSServer(silent: true)
        defer { server.stop() }
        let driver = try PollDriver(options(server, timeout: 200, tries: 1))
        #expect(driver.resolve("slow.ringway.test", token: 1) == .started)
        let timeout = try #require(driver.resolver.nextTimeoutMilliseconds)
        #expect(timeout > 0 && timeout <= 200)
        let began = monotonicMilliseconds()
        #expect(driver.wait(for: [1], milliseconds: 3000))
        let elapsed = monotonicMilliseconds() - began
        let failed = try #require(failure(driver.results[1]))
        #expect(failed.kind == .timedOut)
        #expect(failed.description.contains("slow.ringway.test"))
        #expect(elapsed >= 150 && elapsed < 2000, "took \(elapsed) ms")
        #expect(server.queries("slow.ringway.test") >= 1)
        // Timeouts are not cached: the next lookup asks again.
        #expect(driver.resolve("slow.ringway.test", token: 2) == .started)
    }

    @Test func localhostComesFromEtcHostsAtOnce() throws {
        let server = try FakeDNSServer(silent: true)
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        guard case .answered(let answer) = driver.resolve("localhost", token: 1) else {
            Issue.record("localhost was not answered at once")
            return
        }
        #expect(answer.addresses.first == .v4(.loopback))
        #expect(answer.addresses.allSatisfy { $0.isLoopback })
        #expect(answer.ttlSeconds == AsyncResolver.hostsFileTTLSeconds)
        #expect(server.totalQueries == 0)
        #expect(driver.resolver.pendingQueries == 0)
        #expect(driver.reported.isEmpty)
        // And cached: still answered at once.
        guard case .answered = driver.resolve("LOCALHOST", token: 2) else {
            Issue.record("LOCALHOST was not answered at once")
            return
        }
    }

    @Test func ipLiteralsAnswerWithoutCAres() throws {
        let server = try FakeDNSServer(silent: true)
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        #expect(driver.resolve("192.0.2.7", token: 1)
            == .answered(Answer(addresses: [.v4(IPv4Address(192, 0, 2, 7))], ttlSeconds: .max)))
        #expect(driver.resolve("2001:db8::1", token: 2)
            == .answered(Answer(addresses: [.v6(Self.v6a)], ttlSeconds: .max)))
        #expect(driver.resolver.pendingQueries == 0)
        #expect(driver.resolver.nextTimeoutMilliseconds == nil)
        #expect(driver.watched.isEmpty)
        #expect(server.totalQueries == 0)
    }

    @Test(arguments: [
        "", ".", "bad name", "-lead.ringway.test", "trail-.ringway.test", "a..ringway.test",
        String(repeating: "x", count: 64) + ".test", Array(repeating: "abcdefghi", count: 26).joined(separator: "."),
        "1.2.3", "300.1.1.1", "a.ringway.test/x", "ü.ringway.test", "a.ringway.test..", "[::1]",
    ])
    func refusesInvalidNamesWithoutAQuery(name: String) throws {
        let server = try FakeDNSServer(silent: true)
        defer { server.stop() }
        let driver = try PollDriver(options(server))
        let start = driver.resolve(name, token: 1)
        #expect(start == .failed(ResolveFailure(name: name, kind: .badName)))
        if case .failed(let failure) = start { #expect(failure.description.contains("not a valid host name")) }
        #expect(driver.resolver.pendingQueries == 0)
        #expect(server.totalQueries == 0)
    }

    @Test func acceptsOrdinaryNames() {
        for name in ["localhost", "a.ringway.test", "a.ringway.test.", "web_1", "x-1.example", "1a.example", "a.b.c.d.e"] {
            #expect(HostName.isValid(name), "\(name)")
        }
        #expect(HostName.isValid(String(repeating: "x", count: 63) + ".test"))
    }

    @Test func deinitWithAPendingQueryReleasesItsContext() throws {
        let server = try FakeDNSServer(silent: true)
        defer { server.stop() }
        var resolver: AsyncResolver? = try AsyncResolver(options: options(server, timeout: 5000, tries: 1))
        weak let weakResolver = resolver
        #expect(resolver?.resolve("pending.ringway.test", token: 1) == .started)
        #expect(resolver?.resolve("other.ringway.test", token: 2) == .started)
        let sink = try #require(resolver?.sink)
        #expect(sink.contextsAlive == 2)
        #expect(sink.callbacks == 0)
        resolver = nil
        #expect(weakResolver == nil)
        #expect(sink.contextsAlive == 0, "ares_destroy gave every context back")
        #expect(sink.callbacks == 2)
        #expect(sink.takeCompletions().allSatisfy { ResolveFailure.Kind(aresStatus: $0.status) == .cancelled })
    }

    @Test func reportsSocketInterestChanges() throws {
        let server = try FakeDNSServer(["a.ringway.test": .init(v4: [Self.v4a])])
        defer { server.stop() }
        let resolver = try AsyncResolver(options: options(server))
        _ = resolver.resolve("a.ringway.test", token: 1)
        var changes: [SocketInterest] = []
        resolver.drainSocketInterest { changes.append($0) }
        #expect(changes.count == 1)
        #expect(changes.first?.wantsRead == true)
        #expect(changes.first?.wantsWrite == false)
        var again: [SocketInterest] = []
        resolver.drainSocketInterest { again.append($0) }
        #expect(again.isEmpty, "only changes since the last drain")
    }

    @Test func cacheEvictsTheOldestName() {
        var cache = ResolverCache(capacity: 2)
        let outcome = ResolverCache.Outcome.addresses([.v4(Self.v4a)])
        cache.insert("a", outcome, ttlMilliseconds: 10_000, now: 0)
        cache.insert("b", outcome, ttlMilliseconds: 10_000, now: 0)
        cache.insert("c", outcome, ttlMilliseconds: 10_000, now: 0)
        #expect(cache.lookup("a", now: 1) == nil)
        #expect(cache.lookup("b", now: 1) != nil)
        #expect(cache.lookup("c", now: 1)?.remainingMilliseconds == 9_999)
        #expect(cache.lookup("c", now: 10_000) == nil, "expired")
        // Refreshing a name many times keeps the bookkeeping bounded.
        for step in 0..<1000 { cache.insert("b", outcome, ttlMilliseconds: 10, now: UInt64(step)) }
        #expect(cache.count <= 2)
        #expect(cache.lookup("b", now: 1000) != nil)
    }
}
