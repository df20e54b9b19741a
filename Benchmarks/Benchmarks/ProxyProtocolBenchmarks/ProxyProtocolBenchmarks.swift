import Benchmark
import ProxyProtocol

// Each benchmark runs its operation `scaledIterations` times (1000) per measured iteration, so the
// reported time per operation is the measured time divided by 1000 (the table shows it scaled).

private let client = IPEndpoint(address: .v4(IPv4Address(203, 0, 113, 54)), port: 56324)
private let server = IPEndpoint(address: .v4(IPv4Address(192, 0, 2, 10)), port: 443)
private let client6 = IPEndpoint(address: .v6(IPv6Address("2001:db8:85a3::8a2e:370:7334")!), port: 56324)
private let server6 = IPEndpoint(address: .v6(IPv6Address("2001:db8::10")!), port: 443)

/// A v2 TCP6 header as a TLS-terminating proxy would send it.
private let headerWithTLVs = ProxyHeader.tcp(
    source: client6, destination: server6, version: .v2,
    tlvs: [
        ProxyTLV(type: ProxyTLV.alpn, text: "h2"),
        ProxyTLV(type: ProxyTLV.authority, text: "api.example.com"),
        ProxyTLV(type: ProxyTLV.uniqueID, value: Array(0..<32)),
    ])

private func encoded(_ header: ProxyHeader, appendingCRC32C: Bool = false) -> [UInt8] {
    (try? ProxyHeaderEncoder.encode(header, appendingCRC32C: appendingCRC32C)) ?? []
}


/// Detects the same input `scaledIterations` times.
private func detectRepeatedly(_ benchmark: Benchmark, _ input: [UInt8]) {
    let detector = ProxyHeaderDetector()
    input.withUnsafeBytes { bytes in
        for _ in benchmark.scaledIterations {
            blackHole(detector.detect(bytes))
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .instructions, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    let v1TCP4 = encoded(.tcp(source: client, destination: server, version: .v1))
    Benchmark("parse v1 TCP4") { benchmark in detectRepeatedly(benchmark, v1TCP4) }

    let v1TCP6 = encoded(.tcp(source: client6, destination: server6, version: .v1))
    Benchmark("parse v1 TCP6") { benchmark in detectRepeatedly(benchmark, v1TCP6) }

    let v2Plain = encoded(.tcp(source: client, destination: server, version: .v2))
    Benchmark("parse v2 TCP4") { benchmark in detectRepeatedly(benchmark, v2Plain) }

    let v2TLVs = encoded(headerWithTLVs, appendingCRC32C: true)
    Benchmark("parse v2 TCP6 ALPN+AUTHORITY+UNIQUE_ID+CRC32C") { benchmark in detectRepeatedly(benchmark, v2TLVs) }

    let httpGet = Array("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n\r\n".utf8)
    Benchmark("detect non-PROXY (HTTP GET)") { benchmark in detectRepeatedly(benchmark, httpGet) }

    Benchmark("detect v2 partial (needMore)") { benchmark in detectRepeatedly(benchmark, Array(v2TLVs.prefix(40))) }

    Benchmark("encode v2 TCP4") { benchmark in
        let header = ProxyHeader.tcp(source: client, destination: server, version: .v2)
        var buffer = [UInt8](repeating: 0, count: 512)
        buffer.withUnsafeMutableBytes { out in
            for _ in benchmark.scaledIterations {
                blackHole(try? ProxyHeaderEncoder.encode(header, into: out))
            }
        }
    }

    Benchmark("encode v2 TCP6 ALPN+AUTHORITY+UNIQUE_ID+CRC32C") { benchmark in
        var buffer = [UInt8](repeating: 0, count: 512)
        buffer.withUnsafeMutableBytes { out in
            for _ in benchmark.scaledIterations {
                blackHole(try? ProxyHeaderEncoder.encode(headerWithTLVs, appendingCRC32C: true, into: out))
            }
        }
    }

    Benchmark("encode v1 TCP6") { benchmark in
        let header = ProxyHeader.tcp(source: client6, destination: server6, version: .v1)
        var buffer = [UInt8](repeating: 0, count: 512)
        buffer.withUnsafeMutableBytes { out in
            for _ in benchmark.scaledIterations {
                blackHole(try? ProxyHeaderEncoder.encode(header, into: out))
            }
        }
    }

    let kilobyte = [UInt8](repeating: 0x5A, count: 1024)
    let crcConfiguration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .instructions], scalingFactor: .kilo, maxDuration: .seconds(3))
    Benchmark("CRC32C 1 KiB", configuration: crcConfiguration) { benchmark in
        kilobyte.withUnsafeBytes { bytes in
            for _ in benchmark.scaledIterations {
                blackHole(CRC32C.checksum(bytes))
            }
        }
    }
}
