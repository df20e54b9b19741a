/// Typed views of the registered TLVs. Each returns the first TLV of its type, or nil.
extension ProxyHeader {
    /// The first TLV of `type`.
    public func tlv(ofType type: UInt8) -> ProxyTLV? {
        tlvs.first { $0.type == type }
    }

    /// PP2_TYPE_ALPN: the negotiated application protocol, e.g. `h2`.
    public var alpn: [UInt8]? { tlv(ofType: ProxyTLV.alpn)?.value }

    /// PP2_TYPE_AUTHORITY: the host name the client asked for (TLS SNI); nil when not UTF-8.
    public var authority: String? { tlv(ofType: ProxyTLV.authority)?.text }

    /// PP2_TYPE_UNIQUE_ID: an opaque connection id of up to 128 bytes.
    public var uniqueID: [UInt8]? { tlv(ofType: ProxyTLV.uniqueID)?.value }

    /// PP2_TYPE_NETNS: the network namespace name; nil when not UTF-8.
    public var netns: String? { tlv(ofType: ProxyTLV.netns)?.text }

    /// PP2_TYPE_CRC32C: the checksum as received; nil when absent or not 4 bytes.
    public var crc32c: UInt32? {
        guard let value = tlv(ofType: ProxyTLV.crc32c)?.value, value.count == 4 else { return nil }
        return value.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// PP2_TYPE_SSL; nil when absent or malformed (a parsed header never holds a malformed one).
    public var ssl: ProxySSLInfo? {
        guard let tlv = tlv(ofType: ProxyTLV.ssl) else { return nil }
        return try? ProxySSLInfo(parsing: tlv)
    }
}
