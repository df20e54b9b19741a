/// What GOST makes of schemes Ringway does not serve, so a refusal can say what was asked for.
/// A scheme is `handler+listener` in `-L` and `connector+dialer` in `-F`; a single word is both.
enum GOSTSchemes {
    /// `-L` handlers and listeners.
    static func serviceMeaning(_ scheme: String) -> String? {
        let parts = scheme.split(separator: "+").map(String.init)
        if parts.count == 2, let meaning = serviceMeanings[parts[0]], let transport = transportMeanings[parts[1]] {
            return "\(meaning) over \(transport)"
        }
        if let handler = parts.first, let meaning = serviceMeanings[handler] { return meaning }
        if parts.count == 2, let meaning = transportMeanings[parts[1]] { return meaning }
        return transportMeanings[scheme]
    }

    /// `-F` connectors and dialers. GOST falls back to the `http` connector for a word it does not
    /// know as a connector (`tcp` included) and to the `tcp` dialer for one it does not know as a dialer.
    static func nodeMeaning(_ scheme: String) -> String? {
        let parts = scheme.split(separator: "+").map(String.init)
        if parts.count == 2, parts[0] == "forward" {
            return "a forward hop over GOST's \(parts[1]) transport"
        }
        if let connector = parts.first, let meaning = connectorMeanings[connector] { return meaning }
        if let connector = parts.first, transportMeanings[connector] != nil || connector == "tcp" {
            return "an HTTP proxy hop over \(connector): GOST has no \(connector) connector"
        }
        return nil
    }

    /// A listener or dialer type (a file's `listener.type`, `dialer.type`).
    static func transportMeaning(_ type: String) -> String? {
        transportMeanings[type]
    }

    private static let serviceMeanings: [String: String] = [
        "auto": "GOST's HTTP/SOCKS proxy", "http": "an HTTP proxy", "http2": "an HTTP/2 proxy",
        "socks": "a SOCKS5 proxy", "socks5": "a SOCKS5 proxy", "socks4": "a SOCKS4 proxy",
        "socks4a": "a SOCKS4a proxy", "ss": "a Shadowsocks proxy", "ssu": "Shadowsocks UDP",
        "relay": "GOST's relay protocol", "sni": "an SNI proxy", "udp": "UDP port forwarding",
        "rtcp": "remote TCP port forwarding", "rudp": "remote UDP port forwarding",
        "red": "a transparent proxy", "redir": "a transparent proxy", "redirect": "a transparent proxy",
        "redu": "a transparent UDP proxy", "dns": "a DNS proxy", "tun": "a TUN device", "tap": "a TAP device",
        "sshd": "an SSH server", "metrics": "a metrics service (use -metrics)", "unix": "Unix socket forwarding",
        "serial": "serial port forwarding",
    ]

    private static let connectorMeanings: [String: String] = [
        "http": "an HTTP proxy hop", "http2": "an HTTP/2 proxy hop", "socks": "a SOCKS5 proxy hop",
        "socks5": "a SOCKS5 proxy hop", "socks4": "a SOCKS4 proxy hop", "socks4a": "a SOCKS4a proxy hop",
        "ss": "a Shadowsocks hop", "ssu": "a Shadowsocks UDP hop", "relay": "a GOST relay hop",
        "sni": "an SNI proxy hop", "sshd": "an SSH tunnel hop", "direct": "GOST's direct connector",
        "virtual": "GOST's virtual connector",
    ]

    /// Listener and dialer transports (GOST wraps a handler or connector in them).
    private static let transportMeanings: [String: String] = [
        "tls": "a TLS transport", "mtls": "a multiplexed TLS transport", "ws": "a WebSocket transport",
        "wss": "a WebSocket-over-TLS transport", "mws": "a multiplexed WebSocket transport",
        "mwss": "a multiplexed WebSocket-over-TLS transport", "kcp": "a KCP transport",
        "quic": "a QUIC transport", "http3": "an HTTP/3 transport", "h3": "an HTTP/3 transport",
        "h2": "an HTTP/2 transport", "h2c": "an HTTP/2 cleartext transport", "grpc": "a gRPC transport",
        "pht": "an HTTP polling transport", "phts": "an HTTP polling transport over TLS",
        "ssh": "an SSH transport", "dtls": "a DTLS transport", "ftcp": "a fake-TCP transport",
        "icmp": "an ICMP transport", "obfs-http": "an obfuscated HTTP transport",
        "ohttp": "an obfuscated HTTP transport",
        "otls": "an obfuscated TLS transport",
    ]
}
