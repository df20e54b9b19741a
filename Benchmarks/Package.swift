// swift-tools-version:6.1
import PackageDescription

// Micro-benchmarks of Ringway's libraries, kept out of the root package so that its build stays lean.
// Run from this folder: `swift package --scratch-path ../.build-bench benchmark`.
let package = Package(
    name: "RingwayBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Ringway", path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ProxyProtocolBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ProxyProtocol", package: "Ringway"),
            ],
            path: "Benchmarks/ProxyProtocolBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
