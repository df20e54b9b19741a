// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Ringway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ringway", targets: ["ringway"]),
        .library(name: "ProxyProtocol", targets: ["ProxyProtocol"]),
        .library(name: "Uring", targets: ["Uring"]),
        .library(name: "Relay", targets: ["Relay"]),
        .library(name: "RingwayConfig", targets: ["RingwayConfig"]),
        .library(name: "RingwayConfigFile", targets: ["RingwayConfigFile"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLiburing",
            pkgConfig: "liburing",
            providers: [.apt(["liburing-dev"])]
        ),
        .target(name: "ProxyProtocol"),
        .target(name: "Uring", dependencies: ["CLiburing"]),
        .target(name: "RingwayConfig", dependencies: ["ProxyProtocol"]),
        // GOST's YAML/JSON configuration files (-C, -O) over RingwayConfig's schema. Yams brings
        // Foundation, so this is its own target, which the engine (Relay) never links.
        .target(
            name: "RingwayConfigFile",
            dependencies: ["RingwayConfig", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "Relay",
            dependencies: [
                "Uring", "ProxyProtocol", "RingwayConfig", "Resolver",
            ]
        ),
        // sd_notify without libsystemd: READY/RELOADING/STOPPING/STATUS to $NOTIFY_SOCKET.
        .target(name: "SystemdNotify", dependencies: ["Uring"]),
        .executableTarget(
            name: "ringway",
            dependencies: [
                "Relay", "RingwayConfig", "RingwayConfigFile", "SystemdNotify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "ProxyProtocolTests",
            dependencies: [
                "ProxyProtocol", "RingwayTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "UringTests", dependencies: ["Uring", "CLiburing"]),
        .testTarget(name: "SystemdNotifyTests", dependencies: ["SystemdNotify"]),
        .testTarget(name: "RingwayConfigTests", dependencies: ["RingwayConfig", "ProxyProtocol"]),
        .testTarget(
            name: "RingwayConfigFileTests",
            dependencies: ["RingwayConfigFile", "RingwayConfig", "ProxyProtocol", "RingwayTestSupport"]),
        // Loopback sockets, scripted upstreams and a traffic driver shared by the end-to-end tests.
        .target(name: "RingwayTestSupport", dependencies: ["ProxyProtocol"], path: "Tests/RingwayTestSupport"),
        .testTarget(
            name: "RelayTests",
            dependencies: ["Relay", "RingwayConfig", "ProxyProtocol", "Uring", "RingwayTestSupport"]
        ),
        .testTarget(name: "RingwayEndToEndTests", dependencies: ["ProxyProtocol", "RingwayTestSupport"]),
        // Asynchronous DNS (c-ares) a worker drives from its ring.
        .systemLibrary(name: "CAres", pkgConfig: "libcares", providers: [.apt(["libc-ares-dev"])]),
        .target(name: "Resolver", dependencies: ["CAres", "ProxyProtocol"]),
        .testTarget(name: "ResolverTests", dependencies: ["Resolver", "ProxyProtocol", "RingwayTestSupport"]),
    ]
)
