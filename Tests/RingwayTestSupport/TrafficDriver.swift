import Glibc

/// A deterministic byte stream: offset `i` of a stream starting at `start` is
/// `pattern[(start + i) % size]`. Generating and checking are memcpy/memcmp fast, even in debug.
public final class StreamPattern: @unchecked Sendable {
    public static let shared = StreamPattern()
    let size = 1 << 20
    let bytes: UnsafeMutableRawPointer

    private init() {
        bytes = .allocate(byteCount: size * 2, alignment: 64)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for index in 0..<(size / 8) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bytes.storeBytes(of: state ^ (state >> 29), toByteOffset: index * 8, as: UInt64.self)
        }
        // A second copy behind the first, so any window of up to `size` bytes is contiguous.
        (bytes + size).copyMemory(from: bytes, byteCount: size)
    }

    func window(start: Int, offset: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(bytes + (start + offset) % size)
    }
}

/// Small seeded generator for sizes and chunking.
public struct SplitMix64 {
    public var state: UInt64
    public init(state: UInt64) {
        self.state = state
    }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    public mutating func next(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}

/// One end of an exchange: sends its own stream (random chunk sizes), then FIN; receives and
/// checks the peer's stream until FIN.
final class ExchangeEnd {
    let fd: Int32
    var sendStart = 0, sendTotal = 0, sent = 0
    var receiveStart = 0, receiveTotal = -1, received = 0
    var sendFinished = false, receiveFinished = false
    var header = [UInt8]()  // servers learn the plan from the client's first 16 bytes
    var failure: String?
    var random: SplitMix64
    let isServer: Bool

    init(fd: Int32, isServer: Bool, seed: UInt64) {
        self.fd = fd
        self.isServer = isServer
        self.random = SplitMix64(state: seed)
    }

    var done: Bool { (sendFinished && receiveFinished) || failure != nil }
    var wantsWrite: Bool { !sendFinished && (!isServer || receiveTotal >= 0) }
}

/// The plan for one client connection.
public struct Exchange {
    public var clientBytes: Int
    public var serverBytes: Int
    public var clientStart: Int
    public var serverStart: Int

    public init(clientBytes: Int, serverBytes: Int, clientStart: Int, serverStart: Int) {
        self.clientBytes = clientBytes
        self.serverBytes = serverBytes
        self.clientStart = clientStart
        self.serverStart = serverStart
    }
}

/// Runs many exchanges at once through a relay, on one thread with poll(2): clients connect to
/// `relayPort`; the relay's upstream is this driver's own listener. Every byte both ways is
/// checked and both sides half-close.
public struct TrafficDriver {
    let listener: Int32
    public let upstreamPort: UInt16

    public init() throws {
        (listener, upstreamPort) = try Sockets.listen(backlog: 4096)
        setNonBlocking(listener)
    }

    public func close() { Glibc.close(listener) }

    /// Returns one failure description per failed exchange (empty when all passed).
    public func run(_ exchanges: [Exchange], relayPort: UInt16, timeoutSeconds: Int = 120, seed: UInt64 = 1) -> [String] {
        var ends: [ExchangeEnd] = []
        var random = SplitMix64(state: seed)
        var failures: [String] = []
        for exchange in exchanges {
            guard let fd = try? Sockets.connect(port: relayPort) else {
                failures.append("connect to relay failed: \(String(cString: strerror(errno)))")
                continue
            }
            setNonBlocking(fd)
            let end = ExchangeEnd(fd: fd, isServer: false, seed: random.next())
            end.sendTotal = exchange.clientBytes
            end.sendStart = exchange.clientStart
            end.receiveTotal = exchange.serverBytes
            end.receiveStart = exchange.serverStart
            var plan = [UInt8]()
            for value in [exchange.clientBytes, exchange.serverBytes, exchange.clientStart, exchange.serverStart] {
                withUnsafeBytes(of: UInt32(value).littleEndian) { plan += $0 }
            }
            end.header = plan  // sent first, then the stream
            ends.append(end)
        }
        let deadline = time(nil) + timeoutSeconds
        var accepted = 0
        while ends.contains(where: { !$0.done }) && time(nil) < deadline {
            var pollers = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            let active = ends.filter { !$0.done }
            for end in active {
                var events = Int16(POLLIN)
                if end.wantsWrite || (!end.isServer && !end.header.isEmpty) { events |= Int16(POLLOUT) }
                if end.receiveFinished { events &= ~Int16(POLLIN) }
                pollers.append(pollfd(fd: end.fd, events: events, revents: 0))
            }
            guard poll(&pollers, nfds_t(pollers.count), 1000) > 0 else { continue }
            if pollers[0].revents != 0 {
                while true {
                    let fd = accept(listener, nil, nil)
                    if fd < 0 { break }
                    setNonBlocking(fd)
                    accepted += 1
                    ends.append(ExchangeEnd(fd: fd, isServer: true, seed: random.next()))
                }
            }
            for (offset, end) in active.enumerated() where pollers[offset + 1].revents != 0 {
                step(end)
            }
        }
        for end in ends {
            if let failure = end.failure {
                failures.append((end.isServer ? "server: " : "client: ") + failure)
            } else if !end.done {
                failures.append((end.isServer ? "server" : "client")
                    + " timed out: sent \(end.sent)/\(end.sendTotal), received \(end.received)/\(end.receiveTotal)")
            }
            Glibc.close(end.fd)
        }
        if accepted < exchanges.count && failures.isEmpty {
            failures.append("upstream accepted only \(accepted) of \(exchanges.count) connections")
        }
        return failures
    }

    private func step(_ end: ExchangeEnd) {
        // Client: the 16-byte plan goes out before the stream.
        if !end.isServer && !end.header.isEmpty {
            let count = end.header.withUnsafeBytes { send(end.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { end.header.removeFirst(count) }
            if !end.header.isEmpty { return }
        }
        receive(end)
        if end.wantsWrite { transmit(end) }
    }

    private func receive(_ end: ExchangeEnd) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !end.receiveFinished && end.failure == nil {
            let count = buffer.withUnsafeMutableBytes { recv(end.fd, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN { end.failure = "recv: \(String(cString: strerror(errno)))" }
                return
            }
            if count == 0 {
                if end.receiveTotal < 0 || end.received != end.receiveTotal {
                    end.failure = "EOF after \(end.received) of \(end.receiveTotal) bytes"
                }
                end.receiveFinished = true
                return
            }
            var bytes = buffer[0..<count]
            if end.isServer && end.receiveTotal < 0 {
                let needed = 16 - end.header.count
                end.header += bytes.prefix(needed)
                bytes = bytes.dropFirst(needed)
                if end.header.count == 16 {
                    let values = end.header.withUnsafeBytes { raw in
                        (0..<4).map { Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                    }
                    end.receiveTotal = values[0]
                    end.sendTotal = values[1]
                    end.receiveStart = values[2]
                    end.sendStart = values[3]
                }
            }
            guard !bytes.isEmpty else { continue }
            guard end.received + bytes.count <= end.receiveTotal else {
                end.failure = "received more than the \(end.receiveTotal) bytes expected"
                return
            }
            let expected = StreamPattern.shared.window(start: end.receiveStart, offset: end.received)
            let same = bytes.withUnsafeBytes { memcmp($0.baseAddress!, expected, $0.count) == 0 }
            if !same {
                end.failure = "corrupt bytes at offset \(end.received)"
                return
            }
            end.received += bytes.count
        }
    }

    private func transmit(_ end: ExchangeEnd) {
        while end.sent < end.sendTotal {
            let chunk = min(end.sendTotal - end.sent, end.random.next(in: 1...65536) >> (end.random.next() % 4 == 0 ? 8 : 0))
            let source = StreamPattern.shared.window(start: end.sendStart, offset: end.sent)
            let count = send(end.fd, source, max(chunk, 1), Int32(MSG_NOSIGNAL))
            if count < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN { end.failure = "send: \(String(cString: strerror(errno)))" }
                return
            }
            end.sent += count
        }
        if !end.sendFinished {
            shutdown(end.fd, Int32(SHUT_WR))
            end.sendFinished = true
        }
    }
}

public func setNonBlocking(_ fd: Int32) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
}
