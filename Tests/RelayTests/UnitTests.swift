import Glibc
@_spi(Fuzzing) @testable import Relay
import ProxyProtocol
import Testing
import RingwayTestSupport

@Suite("Timer wheel")
struct TimerWheelTests {
    final class Slots {
        let pointer = UnsafeMutablePointer<Connection>.allocate(capacity: 8)
        init() { pointer.initialize(repeating: Connection(), count: 8) }
        deinit { pointer.deallocate() }
    }

    func expired(_ wheel: inout TimerWheel, at now: UInt64, _ slots: Slots) -> [Int32] {
        var result: [Int32] = []
        var index = wheel.expire(nowMilliseconds: now, in: slots.pointer)
        while index >= 0 {
            result.append(index)
            index = slots.pointer[Int(index)].timerNext
        }
        return result.sorted()
    }

    /// A deadline between two ticks fires at the next tick, not a revolution later.
    @Test func deadlineBetweenTicksFiresAtTheNextTick() {
        let slots = Slots()
        var wheel = TimerWheel(nowMilliseconds: 1_000)
        wheel.schedule(0, deadline: 1_307, in: slots.pointer)
        #expect(expired(&wheel, at: 1_300, slots).isEmpty)
        #expect(expired(&wheel, at: 1_306, slots).isEmpty)
        #expect(expired(&wheel, at: 1_310, slots) == [0])
        #expect(wheel.count == 0)
    }

    @Test func deadlinesBeyondOneRevolutionWaitTheirTurn() {
        let slots = Slots()
        var wheel = TimerWheel(nowMilliseconds: 0)
        wheel.schedule(1, deadline: 25_000, in: slots.pointer)  // 2.4 revolutions away
        wheel.schedule(2, deadline: 50, in: slots.pointer)
        #expect(expired(&wheel, at: 60, slots) == [2])
        var now: UInt64 = 60
        while now < 24_990 {
            now += 700
            #expect(expired(&wheel, at: min(now, 24_990), slots).isEmpty)
        }
        #expect(expired(&wheel, at: 25_000, slots) == [1])
    }

    @Test func cancelAndRescheduleMoveTheEntry() {
        let slots = Slots()
        var wheel = TimerWheel(nowMilliseconds: 0)
        for index in 0..<4 { wheel.schedule(Int32(index), deadline: 100, in: slots.pointer) }
        wheel.cancel(1, in: slots.pointer)
        wheel.schedule(2, deadline: 500, in: slots.pointer)
        #expect(expired(&wheel, at: 100, slots) == [0, 3])
        #expect(expired(&wheel, at: 500, slots) == [2])
        #expect(wheel.count == 0)
    }

    @Test func aPastDeadlineFiresAtTheNextExpiry() {
        let slots = Slots()
        var wheel = TimerWheel(nowMilliseconds: 5_000)
        wheel.schedule(0, deadline: 10, in: slots.pointer)
        #expect(expired(&wheel, at: 5_010, slots) == [0])
    }
}

@Suite("HTTP request head")
struct HTTPRequestHeadTests {
    func parse(_ text: String) -> HTTPRequestHead.ParseResult {
        Array(text.utf8).withUnsafeBytes { HTTPRequestHead.parse($0) }
    }

    @Test func keepAliveDefaultsByVersion() {
        guard case .complete(let head11) = parse("GET /x HTTP/1.1\r\nHost: a\r\n\r\n") else { Issue.record(); return }
        #expect(head11.keepAlive && head11.path == "/x" && head11.headLength == 28)
        guard case .complete(let head10) = parse("GET / HTTP/1.0\r\n\r\n") else { Issue.record(); return }
        #expect(!head10.keepAlive)
        guard case .complete(let closing) = parse("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n") else { Issue.record(); return }
        #expect(!closing.keepAlive)
    }

    @Test func bodiesAreMeasuredAndChunkedIsRefused() {
        guard case .complete(let post) = parse("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello") else { Issue.record(); return }
        #expect(post.bodyLength == 5)
        #expect(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") == .invalid("chunked request bodies are not supported"))
    }

    @Test(arguments: ["GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n", ""])
    func incompleteHeads(_ text: String) {
        #expect(parse(text) == .incomplete)
    }

    /// The last one was found by Fuzz/FuzzHTTPRequestHead: a space followed by a combining mark is one
    /// Character, so splitting by Character accepted a method with a space in it.
    @Test(arguments: [
        "GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nno colon\r\n\r\n", " / HTTP/1.1\r\n\r\n",
        "GET \u{301}x /p HTTP/1.1\r\n\r\n",
    ])
    func malformedHeads(_ text: String) {
        guard case .invalid = parse(text) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
    }
}

@Suite("JSON log lines")
struct JSONLineTests {
    func render(_ body: (inout JSONLine) -> Void, capacity: Int = 256) -> String {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer { buffer.deallocate() }
        var line = JSONLine(into: buffer, capacity: capacity)
        body(&line)
        let length = line.finish()
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    }

    @Test func fieldsAreEscapedAndTyped() {
        let text = render { line in
            line.field("msg", "say \"hi\"\n\u{1}")
            line.field("bytes", UInt64(1234))
            line.field("client", IPEndpoint(address: .v6(.loopback), port: 80))
            line.field("duration", milliseconds: 1_234_567)
        }
        #expect(text == #"{"msg":"say \"hi\"\n\u0001","bytes":1234,"client":"[::1]:80","duration":1.234}"# + "\n")
    }

    @Test func overflowDropsWholeFieldsAndStillCloses() {
        let text = render({ line in
            line.field("a", "short")
            line.field("b", String(repeating: "x", count: 100))
        }, capacity: 32)
        #expect(text == #"{"a":"short"}"# + "\n")
    }
}

@Suite("Memory layout")
struct MemoryLayoutTests {
    /// Idle connections must cost under 1 KiB of process memory each; the slot is most of it.
    @Test func connectionSlotFitsTheIdleBudget() {
        #expect(MemoryLayout<Connection>.stride <= 512)
        #expect(MemoryLayout<Direction>.stride <= 128)
    }
}
