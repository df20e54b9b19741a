import Glibc
import ProxyProtocol
import Synchronization

/// A DNS server on 127.0.0.1 (UDP, ephemeral port) answering A and AAAA queries from a table,
/// NXDOMAIN for names not in it, and counting every query by name and type. `silent` drops every
/// query instead (for timeouts).
public final class FakeDNSServer: Sendable {
    public struct Record: Sendable {
        public var v4: [IPv4Address] = []
        public var v6: [IPv6Address] = []
        public var v4TTL: UInt32 = 300
        public var v6TTL: UInt32 = 300

        public init(v4: [IPv4Address] = [], v6: [IPv6Address] = [], v4TTL: UInt32 = 300, v6TTL: UInt32 = 300) {
            self.v4 = v4
            self.v6 = v6
            self.v4TTL = v4TTL
            self.v6TTL = v6TTL
        }
    }

    public let port: UInt16
    private let descriptor: Int32
    private let records: [String: Record]
    private let silent: Bool
    private let counts = Mutex<[String: Int]>([:])
    private let stopping = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)

    public init(_ records: [String: Record] = [:], silent: Bool = false) throws {
        self.records = Dictionary(uniqueKeysWithValues: records.map { ($0.key.lowercased(), $0.value) })
        self.silent = silent
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw FakeDNSError.socket(errno) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            close(descriptor)
            throw FakeDNSError.socket(errno)
        }
        self.descriptor = descriptor
        port = UInt16(bigEndian: address.sin_port)
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        guard pthread_create(&thread, nil, { context in
            let server = Unmanaged<FakeDNSServer>.fromOpaque(context!).takeRetainedValue()
            server.serve()
            return nil
        }, context) == 0 else {
            Unmanaged<FakeDNSServer>.fromOpaque(context).release()
            close(descriptor)
            throw FakeDNSError.thread
        }
        pthread_detach(thread)
    }

    /// `127.0.0.1:PORT`, for `ResolverOptions.servers`.
    public var address: String { "127.0.0.1:\(port)" }

    /// Queries seen for `name` (any case) of `type` ("A", "AAAA"), or of every type when nil.
    public func queries(_ name: String, _ type: String? = nil) -> Int {
        counts.withLock { counts in
            if let type { return counts["\(name.lowercased())/\(type)", default: 0] }
            return counts.filter { $0.key.hasPrefix("\(name.lowercased())/") }.values.reduce(0, +)
        }
    }

    public var totalQueries: Int { counts.withLock { $0.values.reduce(0, +) } }

    /// Ends the serving thread within ~50 ms; the socket closes with it.
    public func stop() { stopping.store(true, ordering: .releasing) }

    private func serve() {
        defer {
            close(descriptor)
            finished.store(true, ordering: .releasing)
        }
        var buffer = [UInt8](repeating: 0, count: 1500)
        while !stopping.load(ordering: .acquiring) {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 50) > 0 else { continue }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let received = withUnsafeMutablePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(descriptor, &buffer, buffer.count, 0, $0, &peerLength)
                }
            }
            guard received > 0, let reply = answer(Array(buffer[0..<received])) else { continue }
            _ = withUnsafePointer(to: &peer) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, reply, reply.count, 0, $0, peerLength)
                }
            }
        }
    }

    /// The reply to one query, nil to stay silent.
    private func answer(_ query: [UInt8]) -> [UInt8]? {
        guard query.count > 12 else { return nil }
        var offset = 12
        var labels: [String] = []
        while offset < query.count, query[offset] != 0 {
            let length = Int(query[offset])
            guard length < 64, offset + 1 + length < query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        guard offset + 5 <= query.count else { return nil }
        let questionEnd = offset + 5
        let type = UInt16(query[offset + 1]) << 8 | UInt16(query[offset + 2])
        let name = labels.joined(separator: ".").lowercased()
        let typeName = type == 1 ? "A" : type == 28 ? "AAAA" : "TYPE\(type)"
        counts.withLock { $0["\(name)/\(typeName)", default: 0] += 1 }
        if silent { return nil }

        var answers: [(rdata: [UInt8], ttl: UInt32)] = []
        let record = records[name]
        if let record, type == 1 {
            answers = record.v4.map { a in ([24, 16, 8, 0].map { UInt8(truncatingIfNeeded: a.value >> $0) }, record.v4TTL) }
        } else if let record, type == 28 {
            answers = record.v6.map { a in
                ((0..<8).map { UInt8(truncatingIfNeeded: a.high >> (56 - 8 * $0)) }
                    + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> (56 - 8 * $0)) }, record.v6TTL)
            }
        }
        let recursionDesired = query[2] & 0x01
        let rcode: UInt8 = record == nil ? 3 : 0  // NXDOMAIN, or NOERROR (no data when empty)
        var reply: [UInt8] = [query[0], query[1], 0x80 | recursionDesired, 0x80 | rcode, 0, 1]
        reply += [UInt8(answers.count >> 8), UInt8(answers.count & 0xFF), 0, 0, 0, 0]
        reply += query[12..<questionEnd]
        for (rdata, ttl) in answers {
            reply += [0xC0, 12, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
            reply += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: ttl >> $0) }
            reply += [UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
        }
        return reply
    }
}

public enum FakeDNSError: Error {
    case socket(Int32)
    case thread
}
