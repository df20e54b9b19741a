import ProxyProtocol

/// The host of an address as written.
enum HostText: Hashable {
    /// `:8080`: every address when listening, the local machine when connecting.
    case empty
    case ip(IPAddress)
    /// A DNS name, resolved at start-up.
    case name(String)

    /// The text `TargetAddress.host` keeps: IPv6 without brackets.
    var written: String {
        switch self {
        case .empty: return ""
        case .ip(let address): return address.description
        case .name(let name): return name
        }
    }
}

/// `HOST:PORT`, `:PORT` or `[IPv6]:PORT`, where PORT may be a GOST port range `LOW-HIGH`
/// (`192.168.1.1:8000-8003` stands for four addresses).
struct HostAndPorts: Hashable {
    var host: HostText
    var ports: ClosedRange<Int>

    /// `allowZero` admits port 0, GOST's placeholder target (`tcp://:8080/:0`).
    init(_ text: Substring, allowRange: Bool, allowZero: Bool = false) throws(ConfigurationProblem) {
        let hostText: Substring
        let portText: Substring
        if text.first == "[" {
            guard let close = text.firstIndex(of: "]") else {
                throw .badHost(String(text), expected: "[IPv6]:PORT with a closing bracket")
            }
            hostText = text[text.index(after: text.startIndex)..<close]
            let afterBracket = text[text.index(after: close)...]
            guard afterBracket.first == ":" else { throw .missingPort(String(text)) }
            portText = afterBracket.dropFirst()
            guard let v6 = IPv6Address(hostText, allowEmbeddedIPv4: true) else {
                throw .badHost(String(hostText), expected: "an IPv6 address inside [ ] (no zone id)")
            }
            host = .ip(.v6(v6))
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .missingPort(String(text)) }
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
            if hostText.contains(":") {
                throw .badHost(String(hostText), expected: "an IPv6 address in brackets, e.g. [::1]:8080")
            }
            host = try HostAndPorts.classify(hostText)
        }
        ports = try HostAndPorts.parsePorts(portText, allowRange: allowRange, allowZero: allowZero)
    }

    /// Every `host:port` the range stands for, in port order.
    var expanded: [(host: HostText, port: UInt16)] {
        ports.map { (host, UInt16($0)) }
    }

    private static func classify(_ text: Substring) throws(ConfigurationProblem) -> HostText {
        if text.isEmpty { return .empty }
        if let v4 = IPv4Address(text) { return .ip(.v4(v4)) }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        // A numeric last label is never a DNS name; refusing it keeps getaddrinfo from reading
        // `010.0.0.1` as octal.
        if let last = labels.last, !last.isEmpty, last.allSatisfy({ ("0"..."9").contains($0) }) {
            throw .badHost(String(text), expected: "a dotted-quad IPv4 address without leading zeros")
        }
        guard text.utf8.count <= 253 else {
            throw .badHost(String(text), expected: "a DNS name of at most 253 characters")
        }
        for (index, label) in labels.enumerated() {
            let trailingDot = label.isEmpty && index == labels.count - 1 && index > 0
            if trailingDot { continue }
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-",
                label.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            else {
                throw .badHost(String(text), expected: "an IP address or a DNS name (letters, digits, '-', '.')")
            }
        }
        return .name(String(text))
    }

    private static func parsePorts(
        _ text: Substring,
        allowRange: Bool,
        allowZero: Bool
    ) throws(ConfigurationProblem) -> ClosedRange<Int> {
        guard !text.isEmpty else { throw .badPort("") }
        let bounds = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        if bounds.count == 2 && allowRange {
            guard let low = number(bounds[0]), let high = number(bounds[1]),
                1 <= low, low <= high, high <= 65535
            else { throw .badPortRange(String(text)) }
            return low...high
        }
        guard let port = number(text) else { throw .badPort(String(text)) }
        guard (allowZero ? 0 : 1)...65535 ~= port else { throw .portOutOfRange(String(text)) }
        return port...port
    }

    /// Decimal digits only (as Go's `strconv.Atoi` without a sign); huge values stay out of range.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
        return text.count > 9 ? Int.max : Int(text)
    }
}

extension HostAndPorts {
    /// The address a listener binds: nil for every address (empty, or `[::]`, which Go listens on
    /// dual-stack as on an empty host). A v4-mapped IPv6 address cannot be bound on Linux; it is
    /// refused here with the IPv4 form to write instead of failing at bind.
    func listenHost() throws(ConfigurationProblem) -> IPAddress? {
        switch host {
        case .empty: return nil
        case .ip(.v6(let v6)) where v6.isUnspecified: return nil
        case .ip(.v6(let v6)) where v6.v4Mapped != nil:
            throw .badHost("[\(v6)]", expected: "\(IPAddress.v6(v6).unmapped), the IPv4 form of that address")
        case .ip(let address): return address
        case .name(let name): throw .badHost(name, expected: "an IP address, or nothing for every address")
        }
    }
}
