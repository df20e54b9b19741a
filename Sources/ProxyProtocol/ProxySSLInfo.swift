/// The value of a PP2_TYPE_SSL TLV: how the client reached the proxy over TLS.
public struct ProxySSLInfo: Hashable, Sendable {
    /// PP2_CLIENT_* bits.
    public var client: UInt8
    /// Zero when the client presented a certificate and it verified.
    public var verify: UInt32
    /// PP2_SUBTYPE_SSL_* items in wire order (unknown sub-types kept).
    public var subTLVs: [ProxyTLV]

    /// The client connected over SSL/TLS.
    public static let clientSSL: UInt8 = 0x01
    /// The client sent a certificate on this connection.
    public static let clientCertificateConnection: UInt8 = 0x02
    /// The client sent a certificate at least once on this TLS session.
    public static let clientCertificateSession: UInt8 = 0x04

    public init(client: UInt8, verify: UInt32, subTLVs: [ProxyTLV] = []) {
        self.client = client
        self.verify = verify
        self.subTLVs = subTLVs
    }

    /// Reads an SSL TLV; throws when `tlv` is not one or is malformed.
    public init(parsing tlv: ProxyTLV) throws(ProxyProtocolError) {
        guard tlv.type == ProxyTLV.ssl else { throw .v2NotSSL(type: tlv.type) }
        let parsed = tlv.value.withUnsafeBytes { (value) -> Result<ProxySSLInfo, ProxyProtocolError> in
            do throws(ProxyProtocolError) {
                try Self.validate(value: value)
            } catch {
                return .failure(error)
            }
            var subTLVs: [ProxyTLV] = []
            var reader = TLVReader(value, startingAt: 5)
            while case .success(let item)? = reader.next() {
                subTLVs.append(ProxyTLV(type: item.type, value: Array(item.value)))
            }
            return .success(
                ProxySSLInfo(
                    client: value[0], verify: value.loadBigEndian(at: 1, as: UInt32.self), subTLVs: subTLVs))
        }
        self = try parsed.get()
    }

    /// The TLV that carries this information.
    public var tlv: ProxyTLV {
        var value: [UInt8] = [client]
        value.reserveCapacity(5 + subTLVs.reduce(0) { $0 + V2Layout.tlvHeaderLength + $1.value.count })
        withUnsafeBytes(of: verify.bigEndian) { value.append(contentsOf: $0) }
        for sub in subTLVs {
            value.append(sub.type)
            let length = UInt16(truncatingIfNeeded: sub.value.count)
            withUnsafeBytes(of: length.bigEndian) { value.append(contentsOf: $0) }
            value.append(contentsOf: sub.value)
        }
        return ProxyTLV(type: ProxyTLV.ssl, value: value)
    }

    /// True when `client` has the PP2_CLIENT_SSL bit.
    public var isSSL: Bool { client & Self.clientSSL != 0 }

    /// The TLS version, e.g. "TLSv1.3".
    public var version: String? { text(of: ProxyTLV.sslVersion) }
    /// The client certificate's Common Name.
    public var commonName: String? { text(of: ProxyTLV.sslCommonName) }
    /// The cipher, e.g. "ECDHE-RSA-AES128-GCM-SHA256".
    public var cipher: String? { text(of: ProxyTLV.sslCipher) }
    /// The algorithm that signed the frontend certificate, e.g. "SHA256".
    public var signatureAlgorithm: String? { text(of: ProxyTLV.sslSignatureAlgorithm) }
    /// The algorithm of the frontend certificate's key, e.g. "RSA2048".
    public var keyAlgorithm: String? { text(of: ProxyTLV.sslKeyAlgorithm) }

    private func text(of subType: UInt8) -> String? {
        subTLVs.first { $0.type == subType }?.text
    }

    /// At least the 5-byte client and verify fields, then sub-TLVs that end exactly at the end.
    static func validate(value: UnsafeRawBufferPointer) throws(ProxyProtocolError) {
        guard value.count >= 5 else { throw .v2SSLTooShort(value.count) }
        var reader = TLVReader(value, startingAt: 5)
        while let item = reader.next() {
            if case .failure(let overrun) = item { throw .v2SSLSubTLVOverrun(offset: overrun.offset) }
        }
    }
}
