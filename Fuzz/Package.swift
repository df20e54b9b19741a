// swift-tools-version:6.1
import PackageDescription

// libFuzzer targets for every parser of untrusted bytes, kept out of the root package so that its build
// stays lean. Build and run them with `scripts/fuzz TARGET SECONDS` from the repository root; see README.md.
//
// Each target is an executable whose `LLVMFuzzerTestOneInput` is handed to libFuzzer's driver by its `@main`
// (SwiftPM links executables with `main` aliased to `<Target>_main`, so libFuzzer's own `main` cannot be used).
let fuzzerSettings: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(
        name: name,
        dependencies: ["HarnessSupport"] + dependencies,
        swiftSettings: fuzzerSettings
    )
}

let package = Package(
    name: "RingwayFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Ringway", path: "../")
    ],
    targets: [
        // `LLVMFuzzerRunDriver`, from the libFuzzer runtime that `-sanitize=fuzzer` links.
        .systemLibrary(name: "CLibFuzzer"),
        // The driver call, invariant checks, and reference parsers the PROXY targets compare against.
        .target(
            name: "HarnessSupport",
            dependencies: ["CLibFuzzer", .product(name: "ProxyProtocol", package: "Ringway")]
        ),
        fuzzTarget("FuzzProxyDetector", [.product(name: "ProxyProtocol", package: "Ringway")]),
        fuzzTarget("FuzzProxyV1", [.product(name: "ProxyProtocol", package: "Ringway")]),
        fuzzTarget("FuzzProxyV2", [.product(name: "ProxyProtocol", package: "Ringway")]),
        fuzzTarget("FuzzServiceURL", [.product(name: "RingwayConfig", package: "Ringway")]),
        fuzzTarget("FuzzHTTPRequestHead", [.product(name: "Relay", package: "Ringway")]),
        fuzzTarget("FuzzSOCKS", [.product(name: "Relay", package: "Ringway")]),
        fuzzTarget("FuzzHTTPProxyRequest", [.product(name: "Relay", package: "Ringway")]),
        fuzzTarget(
            "FuzzConfigFile",
            [.product(name: "RingwayConfig", package: "Ringway"), .product(name: "RingwayConfigFile", package: "Ringway")]),
    ]
)
