import Glibc
import Resolver

/// Drives an AsyncResolver the way a worker's ring will, with plain poll(2): watch the
/// descriptors the interest changes name, `process` what is ready, `processTimeouts` when the
/// resolver's timeout passes, drain the answers after each turn.
final class PollDriver {
    let resolver: AsyncResolver
    private(set) var watched: [Int32: SocketInterest] = [:]
    private(set) var results: [UInt64: Result<Answer, ResolveFailure>] = [:]
    /// Every (token) reported by drainAnswers, repeats included.
    private(set) var reported: [UInt64] = []

    init(_ resolver: AsyncResolver) {
        self.resolver = resolver
    }

    convenience init(_ options: ResolverOptions) throws {
        self.init(try AsyncResolver(options: options))
    }

    func resolve(_ name: String, token: UInt64) -> ResolveStart {
        let start = resolver.resolve(name, token: token)
        absorb()
        return start
    }

    /// Turns the loop until `done` holds or `milliseconds` pass; whether `done` came true.
    @discardableResult
    func run(milliseconds: Int = 5000, until done: (PollDriver) -> Bool) -> Bool {
        let deadline = now() + milliseconds
        absorb()
        while !done(self) {
            let left = deadline - now()
            guard left > 0 else { return false }
            var descriptors = watched.values.map { interest in
                pollfd(
                    fd: interest.descriptor,
                    events: Int16((interest.wantsRead ? POLLIN : 0) | (interest.wantsWrite ? POLLOUT : 0)),
                    revents: 0
                )
            }
            let wait = min(resolver.nextTimeoutMilliseconds ?? 50, left)
            let ready = poll(&descriptors, nfds_t(descriptors.count), Int32(wait))
            if ready > 0 {
                for entry in descriptors where entry.revents != 0 {
                    resolver.process(
                        descriptor: entry.fd,
                        readable: entry.revents & Int16(POLLIN | POLLERR | POLLHUP) != 0,
                        writable: entry.revents & Int16(POLLOUT) != 0
                    )
                }
            } else if ready == 0 {
                resolver.processTimeouts()
            }
            absorb()
        }
        return true
    }

    /// Runs until every token in `tokens` has a result.
    @discardableResult
    func wait(for tokens: some Sequence<UInt64>, milliseconds: Int = 5000) -> Bool {
        let tokens = Array(tokens)
        return run(milliseconds: milliseconds) { driver in tokens.allSatisfy { driver.results[$0] != nil } }
    }

    private func absorb() {
        resolver.drainSocketInterest { interest in
            watched[interest.descriptor] = interest.isWatched ? interest : nil
        }
        resolver.drainAnswers { token, result in
            results[token] = result
            reported.append(token)
        }
    }

    private func now() -> Int {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time.tv_sec * 1000 + time.tv_nsec / 1_000_000
    }
}
