import HarnessSupport
import ProxyProtocol
import RingwayConfig

/// The command-line grammar: `ServiceURL.parse` (`-L`), `ChainHop(parsing:)` (`-F`) and
/// `MetricsEndpoint(parsing:)` (`-metrics`), with the query, host, port-range, duration, CIDR and key
/// parsers under them. The input is decoded as UTF-8 with invalid sequences replaced, as the arguments of
/// a process are. The whole text goes through all three parsers; when it holds a line feed, the text
/// before it is also parsed as `-L` with the text after it as the `-F` node (when that parses).
///
/// Never a crash; parsing twice gives the same answer; an error names where it came from and has a
/// description; a parsed value holds what the code promises (see `checkServices`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)

    let node = parseNode(text)
    parseMetrics(text)
    parseServices(text, chain: [], firstIndex: 0)
    // The same service behind a -F forward node, behind a proxy hop, and behind the hop parsed.
    parseServices(text, chain: [ChainHop(targets: [TargetAddress(host: "10.0.0.1", port: 9000)])], firstIndex: 3)
    parseServices(text, chain: [ChainHop(.http, targets: [TargetAddress(host: "10.0.0.2", port: 3128)])], firstIndex: 5)
    if let node { parseServices(text, chain: [node], firstIndex: 0) }

    if let newline = text.firstIndex(of: "\n") {
        let service = String(text[..<newline])
        let nodeText = String(text[text.index(after: newline)...])
        if let node = parseNode(nodeText) {
            parseServices(service, chain: [node], firstIndex: 1)
        }
    }
    return 0
}

private func describe(_ error: ConfigurationError, origin expected: ConfigurationError.Origin, prefix: String) {
    let description = error.description
    invariant(!error.problem.description.isEmpty, "empty problem description: \(error.problem)")
    invariant(error.origin == expected, "error from \(String(describing: error.origin)), not \(expected)")
    // Compared as UTF-8: the text after the quote may start with a combining mark, which joins the quote
    // into one Character.
    invariant(description.utf8.starts(with: prefix.utf8), "description \(description.debugDescription) lacks \(prefix)")
    invariant(
        description.utf8.count > prefix.utf8.count + 2, "nothing after the origin: \(description.debugDescription)")
}

@discardableResult
private func parseNode(_ text: String) -> ChainHop? {
    do {
        let node = try ChainHop(parsing: text)
        invariant((try? ChainHop(parsing: text)) == node, "-F \(text.debugDescription) parses differently twice")
        invariant(!node.targets.isEmpty, "-F \(text.debugDescription) without targets")
        for target in node.targets {
            checkTarget(target, placeholderAllowed: false, context: "-F \(text.debugDescription)")
        }
        return node
    } catch {
        describe(error, origin: .nodeURL(text), prefix: "-F \"")
        return nil
    }
}

private func parseMetrics(_ text: String) {
    do {
        let endpoint = try MetricsEndpoint(parsing: text)
        invariant((try? MetricsEndpoint(parsing: text)) == endpoint, "-metrics \(text.debugDescription) twice")
        checkListen(endpoint.listen, context: "-metrics \(text.debugDescription)")
        let service = endpoint.service
        invariant(
            service.kind == .metrics && service.targets.isEmpty && service.listen == endpoint.listen,
            "-metrics \(text.debugDescription) gives \(service)")
    } catch {
        describe(error, origin: .setting("-metrics \"\(text)\""), prefix: "-metrics \"")
    }
}

private func parseServices(_ text: String, chain: [ChainHop], firstIndex: Int) {
    let context = ContextText { "-L \(text.debugDescription) with -F \(chain)" }
    let first: Result<[ServiceConfig], ConfigurationError>
    do {
        first = .success(try ServiceURL.parse(text, chain: chain, firstIndex: firstIndex))
    } catch {
        describe(error, origin: .serviceURL(text), prefix: "-L \"")
        first = .failure(error)
    }
    let second: Result<[ServiceConfig], ConfigurationError>
    do {
        second = .success(try ServiceURL.parse(text, chain: chain, firstIndex: firstIndex))
    } catch {
        second = .failure(error)
    }
    invariant(first == second, "parses differently twice: \(first) then \(second): \(context)")
    if case .success(let services) = first {
        checkServices(services, chain: chain, firstIndex: firstIndex, context: context)
    }
}

/// What ServiceURL.parse promises of the services of one `-L` argument.
private func checkServices(_ services: [ServiceConfig], chain: [ChainHop], firstIndex: Int, context: ContextText) {
    let node = chain.count == 1 && chain[0].connector == .forward ? chain[0] : nil
    let proxyChain = node == nil ? chain : []
    // One service per bind port, named in order, all with the settings of the one query.
    invariant(!services.isEmpty && services.count <= 65535, "\(services.count) services: \(context)")
    let head = services[0]
    for (offset, service) in services.enumerated() {
        invariant(
            service.name == "service-\(firstIndex + offset)", "service \(offset) named \(service.name): \(context)")
        invariant(service.kind == head.kind, "kinds differ: \(context)")
        invariant(service.listen.host == head.listen.host, "hosts differ: \(context)")
        invariant(Int(service.listen.port) == Int(head.listen.port) + offset, "ports not consecutive: \(context)")
        invariant(
            service.receiveProxy == head.receiveProxy && service.sendProxy == head.sendProxy
                && service.connectTimeout == head.connectTimeout && service.idleTimeout == head.idleTimeout
                && service.maxConnections == head.maxConnections && service.splice == head.splice
                && service.health == head.health,
            "settings differ between the services of one URL: \(context)")
        // Target health: within the documented ranges, and the first hop's through -F.
        invariant(
            service.health.maxFails >= 1 && service.health.failTimeout >= .milliseconds(1)
                && (service.health.probe.map { $0.interval >= .milliseconds(100) && $0.timeout >= .milliseconds(1) } ?? true),
            "health out of range \(service.health): \(context)")
        if let first = node ?? proxyChain.first, service.kind != .whoami {
            invariant(service.health == first.health, "health \(service.health) is not the first hop's: \(context)")
        }
        checkListen(service.listen, context: context.text)
        // Services of a port range often share one target list: check each list once.
        if offset == 0 || service.targets != services[offset - 1].targets {
            for target in service.targets { checkTarget(target, placeholderAllowed: false, context: context.text) }
        }
        switch service.kind {
        case .forward:
            // A node's addresses replace the targets; through proxy hops the first hop's nodes are
            // dialled and the targets go to the last hop; otherwise a tcp:// service needs a target.
            if let node {
                invariant(
                    service.targets == node.targets, "targets \(service.targets) instead of the node's: \(context)")
            } else if let first = proxyChain.first {
                invariant(service.targets == first.targets && service.chain == proxyChain && !service.chainTargets.isEmpty,
                          "tcp:// through hops: \(service): \(context)")
            } else {
                invariant(!service.targets.isEmpty && service.chain.isEmpty, "tcp:// without targets: \(context)")
            }
        case .proxy:
            invariant(node == nil, "a proxy service behind a forward node: \(context)")
            invariant(service.chain == proxyChain && service.targets == (proxyChain.first?.targets ?? [])
                      && service.chainTargets.isEmpty && !service.proxyProtocols.isEmpty,
                      "proxy service \(service): \(context)")
        case .whoami:
            // (A -F node's proxyProtocol reaches whoami:// services too, which never connect upstream.)
            invariant(
                service.targets.isEmpty && service.chain.isEmpty && !service.splice && service.connectTimeout == .seconds(15)
                    && (service.sendProxy == nil || node?.sendProxy != nil),
                "whoami:// with forwarding settings: \(service): \(context)")
        case .metrics:
            invariant(false, "a metrics service from -L: \(context)")
        }
    }

    if let receive = head.receiveProxy {
        invariant(
            (232...65551).contains(receive.maximumHeaderLength),
            "proxyProtocolMaxHeader \(receive.maximumHeaderLength): \(context)")
        invariant(receive.timeout > .zero, "proxyProtocolTimeout \(receive.timeout): \(context)")
        for range in receive.trustedProxies {
            invariant(
                CIDR(address: range.network, prefixLength: range.prefixLength) == range,
                "trustedProxies range \(range) has host bits or a bad prefix: \(context)")
            invariant(range.contains(range.network), "range \(range) does not contain its network: \(context)")
        }
    }
    if let send = head.sendProxy {
        if send.version == .v1 {
            invariant(!send.uniqueID && !send.crc32c && !send.passthroughTLVs, "TLVs with v1: \(context)")
        }
        if let nodeVersion = node?.sendProxy {
            invariant(
                send.version == nodeVersion, "send \(send.version) but the node asks for \(nodeVersion): \(context)")
        }
    } else if head.kind == .forward {
        invariant(node?.sendProxy == nil, "the node's proxyProtocol was dropped: \(context)")
    }
    invariant(head.connectTimeout > .zero, "dialTimeout \(head.connectTimeout): \(context)")
    invariant(head.idleTimeout >= .zero, "idleTimeout \(head.idleTimeout): \(context)")
    if let maxConnections = head.maxConnections {
        invariant((1...Int(Int32.max)).contains(maxConnections), "maxConnections \(maxConnections): \(context)")
    }
    // Durations print in Go's syntax and read back, within Go's range.
    for duration in [head.connectTimeout, head.idleTimeout] + (head.receiveProxy.map { [$0.timeout] } ?? [])
    where duration <= .nanoseconds(Int64.max) {
        let text = duration.goDescription
        let readBack = try? Duration(goSyntax: text)
        invariant(
            readBack == duration,
            "duration \(duration) prints as \(text), which reads back as \(String(describing: readBack)): \(context)")
    }
}

/// A listening address: port 1-65535; no host means every address, which `[::]` also means.
private func checkListen(_ listen: ListenAddress, context: @autoclosure () -> String) {
    invariant(listen.port >= 1, "listen port 0: \(context())")
    if case .v6(let address)? = listen.host {
        invariant(!address.isUnspecified, "[::] kept as a host instead of every address: \(context())")
    }
}

/// A target as written: port 1-65535 (GOST's placeholder port 0 never survives parsing), and a host
/// that is empty, an IP address, or a DNS name of at most 253 characters.
private func checkTarget(_ target: TargetAddress, placeholderAllowed: Bool, context: @autoclosure () -> String) {
    invariant(target.port >= 1 || placeholderAllowed, "target \(target) with port 0: \(context())")
    invariant(target.resolved.isEmpty, "target \(target) resolved while parsing: \(context())")
    let host = target.host
    guard !host.isEmpty, IPAddress(host) == nil else { return }
    invariant(
        host.utf8.count <= 253 && !host.contains(":") && !host.contains("[") && !host.contains("/"),
        "target host \(host.debugDescription) is neither an address nor a DNS name: \(context())")
}

@main
enum FuzzServiceURLMain {
    static func main() { runLibFuzzer(fuzz) }
}
