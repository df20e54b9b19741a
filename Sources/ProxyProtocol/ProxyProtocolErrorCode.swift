/// A small stable identifier per kind of `ProxyProtocolError`, for log fields and counters.
///
/// Raw values are contiguous from 0 and never reused, so an array of `allCases.count` counters can
/// be indexed by `rawValue`. New kinds are appended at the end.
public enum ProxyProtocolErrorCode: UInt8, CaseIterable, Hashable, Sendable, CustomStringConvertible {
    case badSignature = 0
    case truncated = 1
    case v1LineTooLong = 2
    case v1BadLineEnding = 3
    case v1MissingSpace = 4
    case v1BadProtocol = 5
    case v1EmptyField = 6
    case v1MissingField = 7
    case v1TooManyFields = 8
    case v1BadSourceAddress = 9
    case v1BadDestinationAddress = 10
    case v1AddressFamilyMismatch = 11
    case v1BadPort = 12
    case v1PortOutOfRange = 13
    case v2BadVersion = 14
    case v2BadCommand = 15
    case v2BadFamily = 16
    case v2HeaderTooLong = 17
    case v2AddressBlockTooShort = 18
    case v2TLVOverrun = 19
    case v2CRC32CBadLength = 20
    case v2CRC32CDuplicate = 21
    case v2CRC32CMismatch = 22
    case v2UniqueIDTooLong = 23
    case v2MalformedSSL = 24
    case bufferTooSmall = 25
    case tlvValueTooLong = 26
    case v2LengthOverflow = 27

    /// The snake_case name used in log fields and metric labels, e.g. `v1_bad_port`.
    public var name: String {
        switch self {
        case .badSignature: return "bad_signature"
        case .truncated: return "truncated"
        case .v1LineTooLong: return "v1_line_too_long"
        case .v1BadLineEnding: return "v1_bad_line_ending"
        case .v1MissingSpace: return "v1_missing_space"
        case .v1BadProtocol: return "v1_bad_protocol"
        case .v1EmptyField: return "v1_empty_field"
        case .v1MissingField: return "v1_missing_field"
        case .v1TooManyFields: return "v1_too_many_fields"
        case .v1BadSourceAddress: return "v1_bad_source_address"
        case .v1BadDestinationAddress: return "v1_bad_destination_address"
        case .v1AddressFamilyMismatch: return "v1_address_family_mismatch"
        case .v1BadPort: return "v1_bad_port"
        case .v1PortOutOfRange: return "v1_port_out_of_range"
        case .v2BadVersion: return "v2_bad_version"
        case .v2BadCommand: return "v2_bad_command"
        case .v2BadFamily: return "v2_bad_family"
        case .v2HeaderTooLong: return "v2_header_too_long"
        case .v2AddressBlockTooShort: return "v2_address_block_too_short"
        case .v2TLVOverrun: return "v2_tlv_overrun"
        case .v2CRC32CBadLength: return "v2_crc32c_bad_length"
        case .v2CRC32CDuplicate: return "v2_crc32c_duplicate"
        case .v2CRC32CMismatch: return "v2_crc32c_mismatch"
        case .v2UniqueIDTooLong: return "v2_unique_id_too_long"
        case .v2MalformedSSL: return "v2_malformed_ssl"
        case .bufferTooSmall: return "buffer_too_small"
        case .tlvValueTooLong: return "tlv_value_too_long"
        case .v2LengthOverflow: return "v2_length_overflow"
        }
    }

    public var description: String { name }
}
