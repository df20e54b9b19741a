import ProxyProtocol
@testable import Relay
import RingwayTestSupport
import Testing
import Uring

/// Copy mode's multishot receive: armed once per direction, kept across completions, stopped by
/// a cancel at the direction's buffer limit without losing or reordering what it posted before
/// the cancel landed.
@Suite("Multishot receive")
struct MultishotReceiveTests {
    static let peer = IPEndpoint(address: IPAddress("192.0.2.10")!, port: 40000)

    func relaying(_ machine: Machine) throws {
        try machine.startRelaying(from: Self.peer)
        #expect(machine.firstPhase == "relaying (copy)")
    }

    /// Fills main buffer `id` with `bytes` and completes `receive` with it, F_MORE set.
    func deliver(_ machine: Machine, _ receive: ScriptedKernel.Request, _ bytes: [UInt8], buffer id: UInt16) {
        let memory = machine.worker.pools.main.buffer(id)
        bytes.withUnsafeBytes { memory.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        machine.complete(receive, .success(Int32(bytes.count)), buffer: id, more: true)
    }

    @Test func oneReceivePerDirectionServesEveryRead() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        let receive = try machine.armed(.receive, .inbound)
        #expect(receive.multishot, "copy mode arms a multishot receive")
        for (index, text) in ["GET / HTTP/1.1\r\n\r\n", "GET /2 HTTP/1.1\r\n\r\n", "GET /3 HTTP/1.1\r\n\r\n"].enumerated() {
            deliver(machine, receive, ascii(text), buffer: UInt16(index))
            let send = try machine.take(.send, .inbound)
            #expect(send.bytes == ascii(text))
            machine.complete(send, .success(Int32(send.length)))
            #expect(machine.count(.receive, .inbound) == 1, "no new receive: the multishot one is still armed")
        }
        #expect(machine.worker.slab[0].connection.pointee.inflight == 2, "the two armed receives")
        #expect(machine.worker.pools.held == 0)
        #expect(machine.counter(.multishotStops) == 0)
        // Its end (the client's FIN) comes without F_MORE: the direction finishes as before.
        try machine.complete(.receive, .inbound, .success(0))
        #expect(machine.kernel.shutdownWrites == [machine.worker.slab[0].connection.pointee.upstreamSocket])
    }

    /// A sink that does not keep up: at the limit the receive is cancelled; what the kernel posted
    /// meanwhile (more than the queue holds) is spilled and sent in order; the direction then
    /// receives single-shot.
    @Test func theLimitCancelsAndNothingPostedMeanwhileIsLostOrReordered() throws {
        let machine = try Machine([scriptedService()], bufferCount: 32, buffersPerDirection: 2)
        try relaying(machine)
        let receive = try machine.armed(.receive, .inbound)
        let chunks = (0..<12).map { ascii("chunk-\($0);") }
        deliver(machine, receive, chunks[0], buffer: 0)
        #expect(!machine.has(.cancel), "below the limit the receive stays armed")
        deliver(machine, receive, chunks[1], buffer: 1)
        let cancel = try machine.take(.cancel, .inbound)
        #expect(cancel.target == receive.userData, "the cancel targets the armed receive")
        #expect(machine.counter(.multishotStops) == 1)
        // The kernel posted ten more reads before the cancel landed: 8 fit the queue, 4 spill.
        for index in 2..<12 { deliver(machine, receive, chunks[index], buffer: UInt16(index)) }
        #expect(machine.worker.pools.spill.count == 4)
        #expect(machine.count(.cancel) == 0, "one cancel, however many completions follow")
        try machine.complete(.receive, .inbound, .failure(.canceled))
        machine.complete(cancel, .success(0))
        #expect(!machine.has(.receive, .inbound), "no receive while the direction is over its limit")
        var sent: [UInt8] = []
        while machine.has(.send, .inbound) {
            let send = try machine.take(.send, .inbound)
            sent += send.bytes
            machine.complete(send, .success(Int32(send.length)))
        }
        #expect(sent == chunks.flatMap { $0 }, "every byte, in the order received")
        #expect(machine.worker.pools.spill.count == 0)
        #expect(machine.worker.pools.held == 0)
        let next = try machine.take(.receive, .inbound)
        #expect(!next.multishot, "after its first stop the direction receives single-shot")
        #expect(machine.firstPhase == "relaying (copy)")
    }

    /// A connection that closes with buffers spilled gives every one of them back.
    @Test func closingGivesSpilledBuffersBack() throws {
        let machine = try Machine([scriptedService()], bufferCount: 32, buffersPerDirection: 2)
        try relaying(machine)
        let receive = try machine.armed(.receive, .inbound)
        for index in 0..<11 { deliver(machine, receive, ascii("x\(index)"), buffer: UInt16(index)) }
        #expect(machine.worker.pools.spill.count == 3)
        #expect(machine.worker.pools.held == 11)
        // The upstream resets the first send: the connection closes with everything held.
        try machine.complete(.send, .inbound, .failure(.connectionReset))
        #expect(machine.firstPhase == "closing")
        machine.cancelPending([.cancel, .receive])
        #expect(machine.active == 0)
        #expect(machine.worker.pools.spill.count == 0)
        #expect(machine.worker.pools.held == 0, "queued and spilled buffers all went back")
    }

    /// A cancel that arrives after its receive ended by itself may hit the next receive: that is
    /// not an error, the direction receives again.
    @Test func aLateCancelOfTheNextReceiveOnlyReArms() throws {
        let machine = try Machine([scriptedService()])
        try relaying(machine)
        try machine.complete(.receive, .outbound, .failure(.canceled))
        #expect(machine.firstPhase == "relaying (copy)")
        #expect(machine.has(.receive, .outbound))
        #expect(machine.counter(.connectionsClosed) == 0)
    }

    @Test func singleShotWhenAskedFor() throws {
        let machine = try Machine([scriptedService()], multishotReceive: false)
        try relaying(machine)
        let receive = try machine.take(.receive, .inbound)
        #expect(!receive.multishot)
    }
}
