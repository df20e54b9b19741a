import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import RingwayTestSupport
import Testing
import Uring

/// The proxy phases (handshaking, connecting to a requested target, replying, relaying) driven
/// with synthetic completions on the scripted kernel.
@Suite("Proxy state machine")
struct ProxyStateMachineTests {
    let peer = IPEndpoint(address: IPAddress("192.0.2.10")!, port: 40000)

    @Test func socks5MessagesSplitAcrossReadsThenTheSuccessReplyLeadsTheRelay() throws {
        let machine = try Machine([scriptedService(kind: .proxy)])
        try machine.accept(from: peer)
        #expect(machine.firstPhase == "handshaking")
        // The greeting arrives in two pieces: no reply until it is whole.
        try machine.peek([5])
        try machine.peek([1, 0])
        let selection = try machine.take(.send, .outbound)
        #expect(selection.bytes == [5, 0])
        #expect(!machine.has(.peek), "no read beside a reply in flight")
        machine.complete(selection, .success(2))
        try machine.peek([5, 1, 0, 1, 10, 0, 0, 3, 0, 80] + ascii("hi"))
        let connect = try machine.take(.connect)
        #expect(machine.firstPhase == "connecting")
        machine.complete(connect, .success(0))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        #expect(machine.firstPhase == "relaying (copy)")
        // The client hears the success reply before anything from upstream; "hi" goes upstream.
        let reply = try machine.take(.send, .outbound)
        #expect(Array(reply.bytes.prefix(4)) == [5, 0, 0, 1])
        let early = try machine.take(.send, .inbound)
        #expect(early.bytes == ascii("hi"))
        #expect(machine.counter(.proxyRequests) == 1)
    }

    @Test func aRefusedConnectAnswers502ThenCloses() throws {
        let machine = try Machine([scriptedService(kind: .proxy)])
        try machine.accept(from: peer)
        try machine.peek(ascii("CONNECT 10.0.0.3:443 HTTP/1.1\r\n\r\n"))
        try machine.complete(.connect, nil, .failure(.connectionRefused))
        try machine.complete(.connectTimeout, nil, .failure(.canceled))
        let reply = try machine.take(.send, .outbound)
        #expect(String(decoding: reply.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(machine.firstPhase == "handshaking")
        machine.complete(reply, .success(Int32(reply.bytes.count)))
        #expect(machine.firstPhase == "closing" || machine.active == 0)
        machine.cancelPending([.cancel, .peek])
        #expect(machine.active == 0)
        #expect(machine.closes(.upstreamUnavailable) == 1)
        #expect(machine.counter(.handshakeFailures) == 1)
    }

    @Test func aShortReplySendResumesWhereItStopped() throws {
        let machine = try Machine([scriptedService(kind: .proxy)])
        try machine.accept(from: peer)
        try machine.peek([5, 1, 0])
        let selection = try machine.take(.send, .outbound)
        machine.complete(selection, .success(1))
        let rest = try machine.take(.send, .outbound)
        #expect(rest.bytes == [0])
        machine.complete(rest, .success(1))
        #expect(machine.has(.peek))
    }

    @Test func silenceEndsAtTheHandshakeDeadline() throws {
        let machine = try Machine([scriptedService(kind: .proxy)])
        try machine.accept(from: peer)
        let started = machine.worker.now
        machine.endTurn(at: started + 9_000)
        #expect(machine.firstPhase == "handshaking")
        machine.endTurn(at: started + 10_050)
        #expect(machine.firstPhase == "closing")
        machine.cancelPending([.cancel, .peek])
        #expect(machine.closes(.handshakeTimeout) == 1)
    }
}
