import Glibc
import ProxyProtocol
import Resolver
import Uring

/// The worker's resolver on its ring: c-ares's sockets are watched with one-shot polls, its
/// timeouts run on the loop's 10 ms beat while queries are pending, and answers go to the
/// connections waiting in `.resolving` (matched by slot and generation, so an answer for a
/// connection that is gone touches nothing).
extension Worker {
    static func makeResolver(_ options: EngineOptions, needed: Bool) -> AsyncResolver? {
        guard needed else { return nil }
        return try? AsyncResolver(options: ResolverOptions(
            servers: options.resolverServers, timeoutMilliseconds: options.resolverTimeoutMilliseconds,
            tries: options.resolverTries))
    }

    /// Starts resolving `name` for a connection (an answer from the cache comes back at once).
    mutating func resolveRequested(_ slot: Slot, _ resolving: Resolving, name: String) {
        guard let resolver else {
            requestFailed(slot, resolving.request, reason: .nameUnresolved, errno: nil,
                          detail: "\(name): the resolver could not start (see the start-up log)")
            return
        }
        let token = UInt64(slot.connection.pointee.generation) << 32 | UInt64(UInt32(bitPattern: slot.index))
        switch resolver.resolve(name, token: token) {
        case .answered(let answer):
            nameResolved(slot, resolving, answer.addresses)
        case .failed(let failure):
            requestFailed(slot, resolving.request, reason: .nameUnresolved, errno: failure.errno, detail: failure.description)
        case .started:
            slot.connection.pointee.phase = .resolving(resolving)
            resolverWatches.pending = true
        }
    }

    /// Once per loop turn: timeouts, answers, and the polls c-ares's sockets need now.
    mutating func serviceResolver() {
        guard let resolver else { return }
        if !targetNames.isEmpty { refreshTargetNames() }
        guard resolverWatches.pending || !resolverWatches.isEmpty else { return }
        if resolver.pendingQueries > 0 { resolver.processTimeouts() }
        var answers: [(token: UInt64, result: Result<Answer, ResolveFailure>)] = []
        resolver.drainAnswers { answers.append(($0, $1)) }
        for answer in answers { deliverAnswer(token: answer.token, answer.result) }
        var watches = resolverWatches
        resolver.drainSocketInterest { watches.note($0) }
        resolverWatches = watches
        armResolverPolls()
        resolverWatches.pending = resolver.pendingQueries > 0
    }

    private mutating func deliverAnswer(token: UInt64, _ result: Result<Answer, ResolveFailure>) {
        if token & TargetNames.tokenFlag != 0 {
            if let entry = targetNames.entry(forToken: token) { targetNameAnswered(entry, result) }
            return
        }
        let index = Int32(bitPattern: UInt32(truncatingIfNeeded: token))
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        guard index >= 0, Int(index) < slab.highWater else { return }
        let slot = slab[index]
        guard slot.connection.pointee.generation == generation,
              case .resolving(let resolving) = slot.connection.pointee.phase
        else { return }
        switch result {
        case .success(let answer):
            nameResolved(slot, resolving, answer.addresses)
        case .failure(let failure):
            requestFailed(slot, resolving.request, reason: .nameUnresolved, errno: failure.errno, detail: failure.description)
        }
    }

    /// Arms a poll on every wanted socket that has none (a one-shot poll is spent when it fires),
    /// and cancels the polls of sockets c-ares stopped watching.
    private mutating func armResolverPolls() {
        for (descriptor, watch) in resolverWatches.entries {
            if watch.wanted == 0 {
                if watch.armed {
                    kernel.prepareCancel(target: resolverPollData(descriptor, watch.arming), userData: UserData(.cancel, slot: -1))
                }
                resolverWatches.entries[descriptor] = nil
            } else if !watch.armed || watch.armedFor != watch.wanted || watch.reopened {
                if watch.armed {
                    kernel.prepareCancel(target: resolverPollData(descriptor, watch.arming), userData: UserData(.cancel, slot: -1))
                }
                var next = watch
                next.arming &+= 1
                next.armed = true
                next.armedFor = watch.wanted
                next.reopened = false
                resolverWatches.entries[descriptor] = next
                kernel.preparePoll(
                    descriptor: Descriptor(rawValue: descriptor), events: UInt32(watch.wanted),
                    userData: resolverPollData(descriptor, next.arming))
            }
        }
    }

    private func resolverPollData(_ descriptor: Int32, _ arming: UInt32) -> UserData {
        UserData(.resolverPoll, slot: descriptor, generation: arming)
    }

    /// A poll on a resolver socket completed: let c-ares read or write, then re-arm next turn.
    mutating func resolverPolled(_ data: UserData, _ completion: Completion) {
        guard let resolver, var watch = resolverWatches.entries[data.slot],
              watch.arming & UserData.generationMask == data.generation
        else { return }
        watch.armed = false
        resolverWatches.entries[data.slot] = watch
        guard case .success(let events) = completion.result else { return }
        let readable = events & Int32(POLLIN | POLLERR | POLLHUP) != 0
        let writable = events & Int32(POLLOUT) != 0
        resolver.process(descriptor: data.slot, readable: readable, writable: writable)
        resolverWatches.pending = true
    }
}

/// The resolver's sockets: what c-ares wants to hear about each, and the poll armed for it.
struct ResolverWatches {
    struct Watch {
        /// POLLIN/POLLOUT wanted (0: c-ares stopped watching, the socket is closing).
        var wanted: Int16 = 0
        var armed = false
        var armedFor: Int16 = 0
        /// Counts armings, so a completion of an earlier poll is told apart.
        var arming: UInt32 = 0
        /// c-ares closed the socket and opened another with the same number since the poll was
        /// armed: the poll watches a file that is gone.
        var reopened = false
    }

    var entries: [Int32: Watch] = [:]
    /// Queries or events are outstanding: service the resolver on the next turns.
    var pending = false

    var isEmpty: Bool { entries.isEmpty }

    mutating func note(_ interest: SocketInterest) {
        var watch = entries[interest.descriptor] ?? Watch()
        if interest.isWatched && entries[interest.descriptor] != nil && watch.wanted == 0 { watch.reopened = true }
        watch.wanted = (interest.wantsRead ? Int16(POLLIN) : 0) | (interest.wantsWrite ? Int16(POLLOUT) : 0)
        entries[interest.descriptor] = watch
    }
}

extension ResolveFailure {
    /// For SOCKS reply codes: a timeout is ETIMEDOUT, anything else no errno.
    var errno: Errno? { kind == .timedOut ? Errno(rawValue: ETIMEDOUT) : nil }
}
