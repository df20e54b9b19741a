/// A field of a v1 line, named in v1 errors.
public enum ProxyV1Field: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `TCP4`, `TCP6` or `UNKNOWN`.
    case protocolAndFamily
    case sourceAddress
    case destinationAddress
    case sourcePort
    case destinationPort

    public var description: String {
        switch self {
        case .protocolAndFamily: return "protocol"
        case .sourceAddress: return "source address"
        case .destinationAddress: return "destination address"
        case .sourcePort: return "source port"
        case .destinationPort: return "destination port"
        }
    }
}

/// Why a PROXY header was rejected or could not be written. Offsets count from the first byte of
/// the header.
public enum ProxyProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    // Either version.

    /// A complete input does not begin with either signature.
    case badSignature
    /// A complete input ended inside a header.
    case truncated(available: Int)

    // Version 1.

    /// No CRLF within the first 107 bytes.
    case v1LineTooLong
    /// A CR not followed by LF, or an LF not preceded by CR, at `offset`.
    case v1BadLineEnding(offset: Int)
    /// "PROXY" not followed by a single space.
    case v1MissingSpace(offset: Int)
    /// The protocol token is not `TCP4`, `TCP6` or `UNKNOWN`.
    case v1BadProtocol
    /// Two spaces in a row, or a space right before the CRLF.
    case v1EmptyField(ProxyV1Field)
    /// The line ended before this field.
    case v1MissingField(ProxyV1Field)
    /// A space after the destination port instead of the CRLF.
    case v1TooManyFields
    /// Not an address of the declared family in its canonical text (leading zeros, too few parts,
    /// brackets, zone ids, embedded dotted quads in IPv6, ...).
    case v1BadAddress(ProxyV1Field)
    /// IPv6 text under TCP4 or IPv4 text under TCP6.
    case v1AddressFamilyMismatch(ProxyV1Field)
    /// Not a plain decimal number: a sign, a leading zero, or another character.
    case v1BadPort(ProxyV1Field)
    /// A decimal number above 65535 (`value` is where the parser stopped reading it).
    case v1PortOutOfRange(ProxyV1Field, value: Int)

    // Version 2.

    /// The version nibble is not 2.
    case v2BadVersion(UInt8)
    /// The command nibble is neither LOCAL (0) nor PROXY (1).
    case v2BadCommand(UInt8)
    /// The family/transport byte is none of 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32.
    case v2BadFamily(UInt8)
    /// The header is longer than the receiver accepts.
    case v2HeaderTooLong(length: Int, limit: Int)
    /// The length field leaves less room than the family's addresses need.
    case v2AddressBlockTooShort(family: UInt8, length: Int, required: Int)
    /// A TLV (or its 3-byte type and length) runs past the end of the header.
    case v2TLVOverrun(offset: Int)
    /// A CRC32C TLV whose value is not exactly 4 bytes.
    case v2CRC32CBadLength(Int)
    /// More than one CRC32C TLV.
    case v2CRC32CDuplicate
    /// The CRC32C TLV does not match the header.
    case v2CRC32CMismatch(received: UInt32, computed: UInt32)
    /// A UNIQUE_ID TLV longer than 128 bytes.
    case v2UniqueIDTooLong(Int)
    /// An SSL TLV shorter than its 5-byte client and verify fields.
    case v2SSLTooShort(Int)
    /// A sub-TLV of the SSL TLV runs past the end of the SSL TLV.
    case v2SSLSubTLVOverrun(offset: Int)
    /// A TLV of the wrong type was given where an SSL TLV was expected.
    case v2NotSSL(type: UInt8)

    // Encoding.

    /// The output buffer is smaller than the encoded header.
    case bufferTooSmall(required: Int, available: Int)
    /// A TLV value longer than the 65535 bytes its length field can describe.
    case tlvValueTooLong(type: UInt8, length: Int)
    /// Addresses and TLVs together exceed the 65535 bytes a v2 length field can describe.
    case v2LengthOverflow(Int)

    /// The stable identifier of this kind of failure.
    public var code: ProxyProtocolErrorCode {
        switch self {
        case .badSignature: return .badSignature
        case .truncated: return .truncated
        case .v1LineTooLong: return .v1LineTooLong
        case .v1BadLineEnding: return .v1BadLineEnding
        case .v1MissingSpace: return .v1MissingSpace
        case .v1BadProtocol: return .v1BadProtocol
        case .v1EmptyField: return .v1EmptyField
        case .v1MissingField: return .v1MissingField
        case .v1TooManyFields: return .v1TooManyFields
        case .v1BadAddress(let field):
            return field == .sourceAddress ? .v1BadSourceAddress : .v1BadDestinationAddress
        case .v1AddressFamilyMismatch: return .v1AddressFamilyMismatch
        case .v1BadPort: return .v1BadPort
        case .v1PortOutOfRange: return .v1PortOutOfRange
        case .v2BadVersion: return .v2BadVersion
        case .v2BadCommand: return .v2BadCommand
        case .v2BadFamily: return .v2BadFamily
        case .v2HeaderTooLong: return .v2HeaderTooLong
        case .v2AddressBlockTooShort: return .v2AddressBlockTooShort
        case .v2TLVOverrun: return .v2TLVOverrun
        case .v2CRC32CBadLength: return .v2CRC32CBadLength
        case .v2CRC32CDuplicate: return .v2CRC32CDuplicate
        case .v2CRC32CMismatch: return .v2CRC32CMismatch
        case .v2UniqueIDTooLong: return .v2UniqueIDTooLong
        case .v2SSLTooShort, .v2SSLSubTLVOverrun, .v2NotSSL: return .v2MalformedSSL
        case .bufferTooSmall: return .bufferTooSmall
        case .tlvValueTooLong: return .tlvValueTooLong
        case .v2LengthOverflow: return .v2LengthOverflow
        }
    }

    public var description: String {
        switch self {
        case .badSignature:
            return "the connection did not start with a PROXY header (neither \"PROXY \" nor the v2 signature)"
        case .truncated(let available):
            return "the input ended inside a PROXY header after \(available) bytes"
        case .v1LineTooLong:
            return "PROXY v1 line has no CRLF within the first 107 bytes"
        case .v1BadLineEnding(let offset):
            return "PROXY v1 line has a lone CR or LF at byte \(offset); lines end with CRLF"
        case .v1MissingSpace(let offset):
            return "PROXY v1 line needs a single space after \"PROXY\" (byte \(offset))"
        case .v1BadProtocol:
            return "PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN"
        case .v1EmptyField(let field):
            return "PROXY v1 \(field) is empty; fields are separated by exactly one space"
        case .v1MissingField(let field):
            return "PROXY v1 line ends before the \(field)"
        case .v1TooManyFields:
            return "PROXY v1 line has more than four fields after the protocol;"
                + " expected CRLF after the destination port"
        case .v1BadAddress(let field):
            return "PROXY v1 \(field) is not a canonical address of the declared family"
                + " (IPv4: four decimal numbers 0-255 without leading zeros; IPv6: hex groups)"
        case .v1AddressFamilyMismatch(let field):
            return "PROXY v1 \(field) does not match the protocol: TCP4 takes IPv4, TCP6 takes IPv6"
        case .v1BadPort(let field):
            return "PROXY v1 \(field) must be a decimal number without sign or leading zeros"
        case .v1PortOutOfRange(let field, let value):
            return "PROXY v1 \(field) \(value) is out of range 0-65535"
        case .v2BadVersion(let version):
            return "PROXY v2 header has version \(version); only 2 is defined"
        case .v2BadCommand(let command):
            return "PROXY v2 header has command \(command); only LOCAL (0) and PROXY (1) are defined"
        case .v2BadFamily(let byte):
            return "PROXY v2 header has family/transport byte \(hex(byte)); expected one of"
                + " 0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32"
        case .v2HeaderTooLong(let length, let limit):
            return "PROXY v2 header is \(length) bytes long; this listener accepts at most \(limit)"
        case .v2AddressBlockTooShort(let family, let length, let required):
            return "PROXY v2 header with family \(hex(family)) has length \(length);"
                + " its addresses need at least \(required)"
        case .v2TLVOverrun(let offset):
            return "PROXY v2 TLV at byte \(offset) runs past the end of the header"
        case .v2CRC32CBadLength(let length):
            return "PROXY v2 CRC32C TLV is \(length) bytes long; it must be 4"
        case .v2CRC32CDuplicate:
            return "PROXY v2 header holds more than one CRC32C TLV"
        case .v2CRC32CMismatch(let received, let computed):
            return "PROXY v2 header fails its checksum: CRC32C TLV says \(hex(received)),"
                + " the header computes to \(hex(computed))"
        case .v2UniqueIDTooLong(let length):
            return "PROXY v2 UNIQUE_ID TLV is \(length) bytes long; at most 128 are allowed"
        case .v2SSLTooShort(let length):
            return "PROXY v2 SSL TLV is \(length) bytes long; it needs at least 5 (client flags and verify)"
        case .v2SSLSubTLVOverrun(let offset):
            return "PROXY v2 SSL sub-TLV at byte \(offset) of the SSL value runs past the end of the SSL TLV"
        case .v2NotSSL(let type):
            return "TLV type \(hex(type)) is not an SSL TLV (0x20)"
        case .bufferTooSmall(let required, let available):
            return "the PROXY header needs \(required) bytes but the buffer holds \(available)"
        case .tlvValueTooLong(let type, let length):
            return "TLV type \(hex(type)) has a \(length)-byte value; at most 65535 fit its length field"
        case .v2LengthOverflow(let length):
            return "PROXY v2 addresses and TLVs take \(length) bytes; the length field holds at most 65535"
        }
    }
}

/// `0x1f`-style text for one byte, for error messages.
private func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return byte < 0x10 ? "0x0" + digits : "0x" + digits
}

/// `0x0000abcd`-style text for a checksum, for error messages.
private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
