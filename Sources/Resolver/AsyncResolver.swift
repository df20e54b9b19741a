// How a worker drives an AsyncResolver from its io_uring, never blocking:
//
// 1. `resolve(name, token:)`. `.answered` / `.failed` are final (cache, /etc/hosts, IP literal,
//    invalid name); `.started` means the token's result comes out of `drainAnswers` later.
// 2. After every call into the resolver (resolve, process, processTimeouts), `drainSocketInterest`:
//    for each descriptor that is watched, arm a one-shot POLL_ADD with POLLIN if `wantsRead`,
//    POLLOUT if `wantsWrite` (re-arm with the new mask if it changed); for one that is not watched
//    any more, cancel its poll (c-ares closes that socket). A stop followed by a start for the same
//    number is a new socket that reused it: cancel the old poll, then arm the new one.
// 3. When a poll completes, `process(descriptor:readable:writable:)` with what it reported
//    (POLLERR/POLLHUP count as readable, so c-ares sees the error), then re-arm the poll if the
//    descriptor is still wanted (interest only reports changes; a one-shot poll is spent).
// 4. Keep one timer (a TIMEOUT sqe, or the wait's timeout) at `nextTimeoutMilliseconds`; when it
//    fires, `processTimeouts()`. nil means nothing is pending: no timer.
// 5. `drainAnswers` after each loop turn hands each waiting token its addresses or failure.
//
// Everything runs on the worker's thread: one resolver per worker, never shared. /etc/hosts is
// read (a small local file) at each query that misses the cache; only DNS goes over the network.

import CAres
import Glibc
import ProxyProtocol

/// Asynchronous name resolution with c-ares: `/etc/hosts`, then DNS per `/etc/resolv.conf`, with
/// a TTL-honouring cache, a 5 s negative cache and one query per name however many ask for it.
/// See the top of this file for how a worker's ring drives it. Not thread-safe.
public final class AsyncResolver {
    /// Addresses kept per answer (as many as a worker reserves endpoint slots for).
    public static let maximumAddresses = 16
    /// How long an `/etc/hosts` answer is cached (hosts entries carry no TTL).
    public static let hostsFileTTLSeconds: UInt32 = 60
    /// DNS TTLs are clamped to this range: 0 would mean a query per connection, days would
    /// outlive a migration.
    public static let ttlRange: ClosedRange<UInt32> = 1...3600
    /// How long "does not exist" and "has no addresses" are cached.
    public static let negativeTTLSeconds: UInt32 = 5

    private let channel: OpaquePointer
    /// Where the C callbacks write; outlives `channel` (see deinit).
    let sink: CallbackSink
    private var cache: ResolverCache
    /// Per lowercased name in flight: every token waiting for it, with the spelling it asked for.
    private var waiting: [String: [(token: UInt64, name: String)]] = [:]
    private var answers: [(token: UInt64, result: Result<Answer, ResolveFailure>)] = []

    public init(options: ResolverOptions) throws(ResolverError) {
        let initialized = aresLibraryStatus
        guard initialized == ARES_SUCCESS else {
            throw ResolverError(operation: "ares_library_init", code: initialized, message: aresMessage(initialized))
        }
        let sink = CallbackSink()
        var settings = ares_options()
        var mask = ringway_ARES_OPT_SOCK_STATE_CB
        settings.sock_state_cb = { data, descriptor, readable, writable in
            guard let data else { return }
            Unmanaged<CallbackSink>.fromOpaque(data).takeUnretainedValue()
                .noteInterest(descriptor, read: readable != 0, write: writable != 0)
        }
        settings.sock_state_cb_data = Unmanaged.passUnretained(sink).toOpaque()
        if let timeout = options.timeoutMilliseconds {
            settings.timeout = Int32(clamping: max(timeout, 1))
            mask |= ringway_ARES_OPT_TIMEOUTMS
        }
        if let tries = options.tries {
            settings.tries = Int32(clamping: max(tries, 1))
            mask |= ringway_ARES_OPT_TRIES
        }
        var channel: OpaquePointer?
        let status = ares_init_options(&channel, &settings, mask)
        guard status == ARES_SUCCESS, let channel else {
            throw ResolverError(operation: "ares_init_options", code: status, message: aresMessage(status))
        }
        if let servers = options.servers {
            let status = ares_set_servers_ports_csv(channel, servers.joined(separator: ","))
            guard status == ARES_SUCCESS else {
                ares_destroy(channel)
                throw ResolverError(
                    operation: "ares_set_servers_ports_csv(\(servers.joined(separator: ",")))",
                    code: status, message: aresMessage(status)
                )
            }
        }
        self.channel = channel
        self.sink = sink
        cache = ResolverCache(capacity: options.cacheCapacity)
    }

    deinit {
        // ares_destroy calls every pending query's callback with ARES_EDESTRUCTION (each releases
        // its context) and reports its sockets closed; both only touch `sink`, still alive here.
        // Tokens still waiting get no answer.
        ares_destroy(channel)
    }

    /// Starts looking `name` up for `token`, or answers at once. Tokens are the caller's; the
    /// same token may wait on several names (and is then reported once per name).
    public func resolve(_ name: String, token: UInt64) -> ResolveStart {
        if let literal = IPAddress(name) {
            return .answered(Answer(addresses: [literal], ttlSeconds: .max))
        }
        guard HostName.isValid(name) else {
            return .failed(ResolveFailure(name: name, kind: .badName))
        }
        let key = HostName.key(name)
        if let (outcome, remaining) = cache.lookup(key, now: monotonicMilliseconds()) {
            switch outcome {
            case .addresses(let addresses):
                return .answered(Answer(addresses: addresses, ttlSeconds: UInt32(clamping: (remaining + 999) / 1000)))
            case .failure(let kind):
                return .failed(ResolveFailure(name: name, kind: kind))
            }
        }
        if waiting[key] != nil {
            waiting[key]!.append((token, name))
            return .started
        }
        waiting[key] = [(token, name)]
        submit(name, key: key)
        // /etc/hosts hits (and some errors) complete inside ares_getaddrinfo.
        guard !sink.completions.isEmpty else { return .started }
        let firstNew = answers.count
        collect()
        if waiting[key] == nil,
            let index = answers[firstNew...].firstIndex(where: { $0.token == token })
        {
            switch answers.remove(at: index).result {
            case .success(let answer): return .answered(answer)
            case .failure(let failure): return .failed(failure)
            }
        }
        return .started
    }

    /// The socket interest changes since the last call, in order.
    public func drainSocketInterest(_ body: (SocketInterest) -> Void) {
        guard !sink.interest.isEmpty else { return }
        let changes = sink.takeInterest()
        for change in changes { body(change) }
    }

    /// A poll on `descriptor` reported it ready.
    public func process(descriptor: Int32, readable: Bool, writable: Bool) {
        ares_process_fd(
            channel, readable ? descriptor : ringway_ARES_SOCKET_BAD, writable ? descriptor : ringway_ARES_SOCKET_BAD
        )
        collect()
    }

    /// The timer at `nextTimeoutMilliseconds` fired: retry or fail the queries that are due.
    public func processTimeouts() {
        ares_process_fd(channel, ringway_ARES_SOCKET_BAD, ringway_ARES_SOCKET_BAD)
        collect()
    }

    /// Milliseconds (rounded up) until `processTimeouts` is due; nil when no query is pending.
    public var nextTimeoutMilliseconds: Int? {
        var storage = timeval()
        guard let due = ares_timeout(channel, nil, &storage) else { return nil }
        let microseconds = Int(due.pointee.tv_sec) * 1_000_000 + Int(due.pointee.tv_usec)
        return max(0, (microseconds + 999) / 1000)
    }

    /// Hands over every result that came in since the last call, one per waiting token.
    public func drainAnswers(_ body: (UInt64, Result<Answer, ResolveFailure>) -> Void) {
        guard !answers.isEmpty else { return }
        let ready = answers
        answers.removeAll(keepingCapacity: true)
        for (token, result) in ready { body(token, result) }
    }

    /// Names being looked up (however many tokens wait for each).
    public var pendingQueries: Int { waiting.count }

    /// Names in the cache, expired ones included until they are looked at or evicted.
    var cachedNames: Int { cache.count }

    private func submit(_ name: String, key: String) {
        var hints = ares_addrinfo_hints()
        hints.ai_family = AF_UNSPEC
        hints.ai_flags = ringway_ARES_AI_NOSORT
        let context = Unmanaged.passRetained(QueryContext(key: key, sink: sink)).toOpaque()
        sink.submitting = true
        ares_getaddrinfo(channel, name, nil, &hints, { context, status, _, result in
            guard let context else { return }
            let query = Unmanaged<QueryContext>.fromOpaque(context).takeRetainedValue()
            defer { if let result { ares_freeaddrinfo(result) } }
            query.sink.complete(query.key, status: status, result: result)
        }, context)
        sink.submitting = false
    }

    /// Moves what the callbacks wrote into the cache and the answers.
    private func collect() {
        guard !sink.completions.isEmpty else { return }
        let now = monotonicMilliseconds()
        for completion in sink.takeCompletions() {
            let outcome: ResolverCache.Outcome
            var ttlSeconds: UInt32 = 0
            if completion.status == ARES_SUCCESS, !completion.addresses.isEmpty {
                outcome = .addresses(completion.addresses)
                ttlSeconds = completion.synchronous
                    ? AsyncResolver.hostsFileTTLSeconds
                    : min(max(completion.ttlSeconds, AsyncResolver.ttlRange.lowerBound), AsyncResolver.ttlRange.upperBound)
            } else {
                let kind: ResolveFailure.Kind =
                    completion.status == ARES_SUCCESS ? .noAddresses : ResolveFailure.Kind(aresStatus: completion.status)
                outcome = .failure(kind)
                if kind == .notFound || kind == .noAddresses { ttlSeconds = AsyncResolver.negativeTTLSeconds }
            }
            if ttlSeconds > 0 {
                cache.insert(completion.key, outcome, ttlMilliseconds: UInt64(ttlSeconds) * 1000, now: now)
            }
            for waiter in waiting.removeValue(forKey: completion.key) ?? [] {
                switch outcome {
                case .addresses(let addresses):
                    answers.append((waiter.token, .success(Answer(addresses: addresses, ttlSeconds: ttlSeconds))))
                case .failure(let kind):
                    answers.append((waiter.token, .failure(ResolveFailure(name: waiter.name, kind: kind))))
                }
            }
        }
    }
}

/// One per worker thread: c-ares channels must not be shared.
@available(*, unavailable)
extension AsyncResolver: Sendable {}

/// ares_library_init, once per process (Swift runs a global's initializer exactly once).
private let aresLibraryStatus: Int32 = ares_library_init(ringway_ARES_LIB_INIT_ALL)

/// What the C callbacks report, until the resolver collects it. Separate from the resolver so
/// callbacks that ares_destroy makes from the resolver's deinit never touch a dying object.
final class CallbackSink {
    struct Completion {
        var key: String
        var status: Int32
        var addresses: [IPAddress]
        /// The smallest TTL among the addresses (0 from /etc/hosts).
        var ttlSeconds: UInt32
        /// Completed inside ares_getaddrinfo, i.e. from /etc/hosts rather than DNS.
        var synchronous: Bool
    }

    private(set) var interest: [SocketInterest] = []
    /// Per descriptor, the index in `interest` of its latest change.
    private var interestIndex: [Int32: Int] = [:]
    private(set) var completions: [Completion] = []
    var submitting = false
    /// Query contexts handed to c-ares and not yet given back through a callback.
    private(set) var contextsAlive = 0
    /// Callbacks c-ares made (tests check that destroying the channel makes them).
    private(set) var callbacks = 0

    func noteInterest(_ descriptor: Int32, read: Bool, write: Bool) {
        let change = SocketInterest(descriptor: descriptor, wantsRead: read, wantsWrite: write)
        // A pending change for a socket that is still open is superseded; after a stop, keep both,
        // since a start then belongs to a new socket under the same number.
        if let index = interestIndex[descriptor], interest[index].isWatched {
            interest[index] = change
        } else {
            interestIndex[descriptor] = interest.count
            interest.append(change)
        }
    }

    func takeInterest() -> [SocketInterest] {
        defer {
            interest.removeAll(keepingCapacity: true)
            interestIndex.removeAll(keepingCapacity: true)
        }
        return interest
    }

    func takeCompletions() -> [Completion] {
        defer { completions.removeAll(keepingCapacity: true) }
        return completions
    }

    func contextCreated() { contextsAlive += 1 }
    func contextReleased() { contextsAlive -= 1 }

    func complete(_ key: String, status: Int32, result: UnsafeMutablePointer<ares_addrinfo>?) {
        callbacks += 1
        var v4: [IPAddress] = []
        var v6: [IPAddress] = []
        var ttl = Int32.max
        var node = result?.pointee.nodes
        while let current = node {
            node = current.pointee.ai_next
            guard let address = IPAddress(socketAddress: current.pointee.ai_addr) else { continue }
            ttl = min(ttl, current.pointee.ai_ttl)
            if address.isIPv4 {
                if !v4.contains(address) { v4.append(address) }
            } else if !v6.contains(address) {
                v6.append(address)
            }
        }
        let addresses = Array((v4 + v6).prefix(AsyncResolver.maximumAddresses))
        completions.append(Completion(
            key: key, status: status, addresses: addresses,
            ttlSeconds: addresses.isEmpty ? 0 : UInt32(clamping: max(ttl, 0)), synchronous: submitting
        ))
    }
}

/// The context of one ares_getaddrinfo call: retained when the query starts, released by its
/// callback (which c-ares makes exactly once, ARES_EDESTRUCTION included).
private final class QueryContext {
    let key: String
    let sink: CallbackSink

    init(key: String, sink: CallbackSink) {
        self.key = key
        self.sink = sink
        sink.contextCreated()
    }

    deinit { sink.contextReleased() }
}

func monotonicMilliseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1000 + UInt64(now.tv_nsec) / 1_000_000
}
