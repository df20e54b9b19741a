import ProxyProtocol
import RingwayConfig

/// Shorthands for the expectation tables.
func ip(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress { .v4(IPv4Address(a, b, c, d)) }
let ipv6Loopback = IPAddress.v6(.loopback)

func listen(_ port: UInt16, on host: IPAddress? = nil) -> ListenAddress { ListenAddress(host: host, port: port) }
func target(_ host: String, _ port: UInt16) -> TargetAddress { TargetAddress(host: host, port: port) }

/// A `tcp://` service as the parser builds it, with `change` applied.
func forward(
    _ listenAddress: ListenAddress,
    _ targets: [TargetAddress],
    name: String = "service-0",
    _ change: (inout ServiceConfig) -> Void = { _ in }
) -> ServiceConfig {
    var service = ServiceConfig(name: name, kind: .forward, listen: listenAddress, targets: targets)
    change(&service)
    return service
}

/// A proxy service (`auto` unless `handler` says otherwise), with `change` applied.
func proxy(
    _ listenAddress: ListenAddress,
    _ handler: String = "auto",
    _ protocols: ProxyHandlerProtocols = .auto,
    name: String = "service-0",
    _ change: (inout ServiceConfig) -> Void = { _ in }
) -> ServiceConfig {
    var service = ServiceConfig(
        name: name, kind: .proxy, listen: listenAddress, handler: handler, proxyProtocols: protocols)
    change(&service)
    return service
}

func whoami(
    _ listenAddress: ListenAddress,
    name: String = "service-0",
    _ change: (inout ServiceConfig) -> Void = { _ in }
) -> ServiceConfig {
    var service = ServiceConfig(name: name, kind: .whoami, listen: listenAddress)
    change(&service)
    return service
}

/// The problem a throwing configuration call reports, or nil when it succeeds.
func problem<T>(_ body: () throws(ConfigurationError) -> T) -> ConfigurationError? {
    do throws(ConfigurationError) {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
