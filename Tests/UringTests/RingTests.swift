import Glibc
import Testing
import Uring

@Suite("Ring")
struct RingTests {
    /// Waits (bounded) until at least one completion is ready and returns them all.
    func reap(_ ring: borrowing Ring) throws -> [Completion] {
        let slots = UnsafeMutableBufferPointer<Completion>.allocate(capacity: 64)
        defer { slots.deallocate() }
        for _ in 0..<100 {
            try ring.view.submitAndWait(timeoutNanoseconds: 10_000_000)
            let count = ring.view.reapCompletions(into: slots)
            if count > 0 { return Array(slots[0..<count]) }
        }
        return []
    }

    @Test func nopRoundTripCarriesUserData() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        ring.view.prepareNop(userData: 0xDEAD_BEEF_0000_0001)
        let completions = try reap(ring)
        #expect(completions.count == 1)
        #expect(completions.first?.userData == 0xDEAD_BEEF_0000_0001)
        #expect(try completions.first?.result.get() == 0)
    }

    /// A successful close posts nothing (the worker never looks at it); a failed one still does.
    /// The failing close names a descriptor no process can have (INT_MAX is above any limit):
    /// closing one of ours twice could close what another test opened meanwhile.
    @Test func closeCompletesOnlyOnFailure() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        let descriptor = open("/dev/null", O_RDONLY)
        #expect(descriptor >= 0)
        let neverOpen = Int32.max
        ring.view.prepareClose(descriptor: Descriptor(rawValue: descriptor), userData: 1)
        ring.view.prepareClose(descriptor: Descriptor(rawValue: neverOpen), userData: 2)
        ring.view.prepareNop(userData: 3)
        let completions = try reap(ring)
        #expect(completions.map(\.userData).sorted() == [2, 3], "the successful close posted nothing")
        #expect(completions.first { $0.userData == 2 }.map { $0.result == .failure(Errno(rawValue: EBADF)) } == true)
    }

    /// A multishot receive completes once per read with F_MORE and stays armed until the peer's
    /// end, whose completion comes without it.
    @Test func multishotReceiveStaysArmedUntilTheEnd() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        var pool = try ProvidedBufferRing(group: 3, count: 4, size: 64)
        try pool.register(with: ring.view)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]) }
        ring.view.prepareReceive(socket: Descriptor(rawValue: pair[0]), bufferGroup: 3, multishot: true, userData: 9)
        for round in 0..<6 {
            let message = Array("message \(round)".utf8)
            #expect(write(pair[1], message, message.count) == message.count)
            let completion = try #require(try reap(ring).first)
            #expect(completion.userData == 9 && completion.hasMore)
            #expect(try completion.result.get() == Int32(message.count))
            let id = try #require(completion.bufferID)
            #expect(Array(UnsafeRawBufferPointer(start: pool.buffer(id), count: message.count)) == message)
            pool.recycle(id)
            pool.publish()
        }
        close(pair[1])
        let end = try #require(try reap(ring).first)
        #expect(end.userData == 9 && !end.hasMore)
        #expect(try end.result.get() == 0)
        pool.unregister(from: ring.view)
    }

    @Test func ringPrefersDeferredTaskRun() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        #expect(ring.setupFlags == RingSetupFlags.singleIssuerDeferTaskrun.rawValue)
    }

    @Test func providedBufferReceivePicksABufferAndRecyclingReturnsIt() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        var pool = try ProvidedBufferRing(group: 7, count: 2, size: 64)
        try pool.register(with: ring.view)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }

        for round in 0..<5 {
            let message = Array("round \(round)".utf8)
            #expect(write(pair[1], message, message.count) == message.count)
            ring.view.prepareReceive(socket: Descriptor(rawValue: pair[0]), bufferGroup: 7, userData: UInt64(round))
            let completions = try reap(ring)
            let completion = try #require(completions.first)
            #expect(try completion.result.get() == Int32(message.count))
            let id = try #require(completion.bufferID)
            let received = Array(UnsafeRawBufferPointer(start: pool.buffer(id), count: message.count))
            #expect(received == message)
            // Two buffers serve five receives only if recycling works.
            pool.recycle(id)
            pool.publish()
        }
        pool.unregister(from: ring.view)
    }

    @Test func receiveWithEmptyPoolFailsWithNoBuffers() throws {
        let ring = try Ring(entries: 8, completionEntries: 16)
        let pool = try ProvidedBufferRing(group: 1, count: 1, size: 16)
        try pool.register(with: ring.view)
        var pair: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { close(pair[0]); close(pair[1]) }
        #expect(write(pair[1], "ab", 2) == 2)
        ring.view.prepareReceive(socket: Descriptor(rawValue: pair[0]), bufferGroup: 1, userData: 1)
        let first = try #require(try reap(ring).first)
        #expect(first.bufferID != nil)  // the only buffer is now held
        #expect(write(pair[1], "cd", 2) == 2)
        ring.view.prepareReceive(socket: Descriptor(rawValue: pair[0]), bufferGroup: 1, userData: 2)
        let second = try #require(try reap(ring).first)
        #expect(second.result == .failure(.noBuffers))
        pool.unregister(from: ring.view)
    }

    @Test func errnoNamesAndMessages() {
        #expect(Errno.connectionRefused.name == "ECONNREFUSED")
        #expect(Errno.connectionRefused.description == "ECONNREFUSED (Connection refused)")
        #expect(Errno(rawValue: 9999).name == "E9999")
    }
}
