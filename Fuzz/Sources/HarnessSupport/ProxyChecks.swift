import ProxyProtocol

/// Checks shared by the PROXY targets. Each traps through `invariant` when the code under test breaks a
/// promise it documents (ProxyHeaderDetector, ProxyHeader, ProxyHeaderEncoder).
public enum ProxyChecks {
    /// The detector's answer on `input` agrees with the reference parsers'.
    public static func agree(
        _ detection: ProxyDetection,
        with reference: ReferenceOutcome?,
        input: [UInt8]
    ) {
        switch (reference, detection) {
        case (nil, .notProxy), (.needMore, .needMore), (.undecided, .needMore), (.undecided, .invalid):
            return
        case (.header(let header, let consumed), .header(let parsedHeader, let parsedConsumed)):
            invariant(
                header == parsedHeader && consumed == parsedConsumed,
                "header differs from the reference: parsed \(parsedHeader) (\(parsedConsumed) bytes), "
                    + "reference \(header) (\(consumed) bytes), input \(hex(input))")
        case (.invalid(let code), .invalid(let error)):
            invariant(
                code == nil || code == error.code,
                "error \(error.code.name) where the reference says \(code?.name ?? "?"): \(error), input \(hex(input))")
        default:
            invariant(
                false, "detector said \(detection), the reference \(String(describing: reference)), input \(hex(input))"
            )
        }
    }

    /// What every rejection must carry: a code of the input's version and a message.
    public static func checkError(_ error: ProxyProtocolError, input: [UInt8]) {
        let version = input.first == ProxyReference.v1Signature[0] ? "v1_" : "v2_"
        invariant(error.code.name.hasPrefix(version), "error \(error.code.name) for input \(hex(input))")
        invariant(!error.description.isEmpty, "empty description for \(error.code.name)")
    }

    /// Everything an accepted header promises: `consumed` is within the input and decided exactly at its
    /// last byte; the value is normalized as `ProxyHeader` documents; re-encoding it gives bytes that detect
    /// as the same header (the same bytes, where the wire form is canonical); its TLVs read back.
    public static func checkAccepted(
        _ header: ProxyHeader,
        consumed: Int,
        input: [UInt8],
        detector: ProxyHeaderDetector
    ) {
        // Described only when an invariant breaks.
        let context = ContextText { "input \(hex(input)), header \(header)" }
        invariant(consumed > 0 && consumed <= input.count, "consumed \(consumed) of \(input.count) bytes: \(context)")

        // Decided at the header's last byte, not before; the bytes after it are payload.
        withExactCopy(input[0..<consumed]) { bytes in
            let exact = detector.detect(bytes)
            invariant(exact == .header(header, consumed: consumed), "the header's bytes alone: \(exact): \(context)")
        }
        withExactCopy(input[0..<(consumed - 1)]) { bytes in
            let short = detector.detect(bytes)
            invariant(short == .needMore, "one byte short: \(short): \(context)")
        }

        switch header.version {
        case .v1:
            invariant(input.first == UInt8(ascii: "P"), "v1 header from a v2 input: \(context)")
            invariant(consumed <= ProxyReference.v1MaximumLength, "v1 line of \(consumed) bytes: \(context)")
            invariant(input[consumed - 2] == 0x0D && input[consumed - 1] == 0x0A, "v1 line without CRLF: \(context)")
            invariant(header.tlvs.isEmpty, "v1 header with TLVs: \(context)")
            switch header.addresses {
            case .ipv4, .ipv6:
                invariant(header.command == .proxy && header.transport == .stream, "v1 TCP not normalized: \(context)")
            default:
                invariant(header == .local(version: .v1), "v1 UNKNOWN not normalized: \(context)")
            }
        case .v2:
            invariant(input.first == 0x0D, "v2 header from a v1 input: \(context)")
            invariant(
                consumed >= 16 && consumed <= detector.maximumHeaderLength,
                "v2 header of \(consumed) bytes, limit \(detector.maximumHeaderLength): \(context)")
            if header.command == .local || header.addresses == .unspecified {
                invariant(
                    header.transport == .unspecified && header.addresses == .unspecified && header.tlvs.isEmpty,
                    "v2 LOCAL/AF_UNSPEC not normalized: \(context)")
            } else {
                invariant(header.transport != .unspecified, "v2 PROXY without transport: \(context)")
            }
        }

        // source/destination follow the addresses.
        switch (header.command, header.addresses) {
        case (.proxy, .ipv4(let source, let destination, let sourcePort, let destinationPort)):
            invariant(
                header.source == IPEndpoint(address: .v4(source), port: sourcePort)
                    && header.destination == IPEndpoint(address: .v4(destination), port: destinationPort),
                "endpoints differ from the addresses: \(context)")
        case (.proxy, .ipv6(let source, let destination, let sourcePort, let destinationPort)):
            invariant(
                header.source == IPEndpoint(address: .v6(source), port: sourcePort)
                    && header.destination == IPEndpoint(address: .v6(destination), port: destinationPort),
                "endpoints differ from the addresses: \(context)")
        default:
            invariant(header.source == nil && header.destination == nil, "endpoints without addresses: \(context)")
        }

        checkTLVs(header, context: context)

        // Re-encoding: a fixed point of encode/detect.
        let encoded: [UInt8]
        do {
            encoded = try ProxyHeaderEncoder.encode(header)
        } catch {
            invariant(false, "an accepted header does not encode: \(error): \(context)")
            return
        }
        invariant(
            ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: false) == encoded.count,
            "encodedLength differs from the encoding: \(context)")
        let again = withExactCopy(encoded) { detector.detect($0) }
        invariant(
            again == .header(header, consumed: encoded.count),
            "re-encoded \(hex(encoded)) detects as \(again): \(context)")
        // The wire form is canonical for v2 headers with addresses and for v1 TCP4 lines; v1 TCP6 text may
        // be written several ways, v1 UNKNOWN may carry ignored text, LOCAL and AF_UNSPEC blocks are skipped.
        let canonical: Bool
        switch (header.version, header.addresses) {
        case (.v2, .unspecified), (.v1, .unspecified), (.v1, .ipv6), (.v1, .unix): canonical = false
        default: canonical = true
        }
        if canonical {
            invariant(encoded.elementsEqual(input[0..<consumed]), "re-encoded as \(hex(encoded)): \(context)")
        }

        // Appending a CRC32C TLV keeps the header and adds a correct checksum.
        if header.version == .v2, header.addresses != .unspecified, header.crc32c == nil {
            let wide = ProxyHeaderDetector(maximumHeaderLength: ProxyHeaderDetector.maximumPossibleHeaderLength)
            guard let withChecksum = try? ProxyHeaderEncoder.encode(header, appendingCRC32C: true) else {
                invariant(false, "does not encode with a CRC32C: \(context)")
                return
            }
            let detected = withExactCopy(withChecksum) { wide.detect($0) }
            guard case .header(let checked, withChecksum.count) = detected else {
                invariant(false, "with a CRC32C \(hex(withChecksum)) detects as \(detected): \(context)")
                return
            }
            invariant(
                Array(checked.tlvs.dropLast()) == header.tlvs && checked.tlvs.last?.type == ProxyTLV.crc32c
                    && checked.crc32c != nil,
                "the CRC32C TLV changed the header: \(checked): \(context)")
        }
    }

    /// The typed TLV views of an accepted header.
    static func checkTLVs(_ header: ProxyHeader, context: ContextText) {
        var checksums = 0
        for tlv in header.tlvs {
            switch tlv.type {
            case ProxyTLV.crc32c:
                checksums += 1
                invariant(tlv.value.count == 4, "CRC32C of \(tlv.value.count) bytes accepted: \(context)")
            case ProxyTLV.uniqueID:
                invariant(tlv.value.count <= 128, "UNIQUE_ID of \(tlv.value.count) bytes accepted: \(context)")
            case ProxyTLV.ssl:
                checkSSL(tlv.value, context: context.text)
            default:
                break
            }
        }
        invariant(checksums <= 1, "\(checksums) CRC32C TLVs accepted: \(context)")
        invariant((header.crc32c != nil) == (checksums == 1), "crc32c view disagrees: \(context)")
        invariant(
            (header.ssl != nil) == (header.tlv(ofType: ProxyTLV.ssl) != nil), "ssl view disagrees: \(context)")
        invariant(header.uniqueID == header.tlv(ofType: ProxyTLV.uniqueID)?.value, "uniqueID view: \(context)")
        _ = header.alpn
        _ = header.authority
        _ = header.netns
    }

    /// `ProxySSLInfo(parsing:)` on any TLV value, against the reference: it accepts exactly what the
    /// reference accepts, reads the same fields, and writes the value back unchanged.
    public static func checkSSL(_ value: some Collection<UInt8>, context: @autoclosure () -> String) {
        let bytes = Array(value)
        let expected = ProxyReference.ssl(bytes[...])
        let tlv = ProxyTLV(type: ProxyTLV.ssl, value: bytes)
        do {
            let info = try ProxySSLInfo(parsing: tlv)
            invariant(
                info == expected,
                "SSL value \(hex(bytes)) read as \(info), reference \(String(describing: expected)): \(context())")
            invariant(info.tlv == tlv, "SSL value \(hex(bytes)) written back as \(hex(info.tlv.value)): \(context())")
            _ = (info.isSSL, info.version, info.commonName, info.cipher, info.signatureAlgorithm, info.keyAlgorithm)
        } catch {
            invariant(
                expected == nil, "SSL value \(hex(bytes)) refused (\(error)), reference \(expected!): \(context())")
            invariant(error.code == .v2MalformedSSL, "SSL value refused with \(error.code.name): \(context())")
        }
    }
}
