import ProxyProtocol
import RingwayTestSupport
import Testing

@Suite("error codes")
struct ErrorCodeTests {
    @Test("raw values are contiguous from 0, so counters can be an array")
    func contiguous() {
        #expect(
            ProxyProtocolErrorCode.allCases.map(\.rawValue) == Array(0..<UInt8(ProxyProtocolErrorCode.allCases.count)))
    }

    @Test("names are unique snake_case")
    func names() {
        let names = ProxyProtocolErrorCode.allCases.map(\.name)
        #expect(Set(names).count == names.count)
        for name in names {
            #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, "\(name)")
            #expect(!name.hasPrefix("_") && !name.hasSuffix("_"))
        }
        #expect(ProxyProtocolErrorCode.badSignature.name == "bad_signature")
        #expect(ProxyProtocolErrorCode.v2CRC32CMismatch.description == "v2_crc32c_mismatch")
    }

    static let oneErrorPerCode: [ProxyProtocolError] = [
        .badSignature, .truncated(available: 3), .v1LineTooLong, .v1BadLineEnding(offset: 9),
        .v1MissingSpace(offset: 5),
        .v1BadProtocol, .v1EmptyField(.sourcePort), .v1MissingField(.destinationPort), .v1TooManyFields,
        .v1BadAddress(.sourceAddress), .v1BadAddress(.destinationAddress), .v1AddressFamilyMismatch(.sourceAddress),
        .v1BadPort(.destinationPort), .v1PortOutOfRange(.sourcePort, value: 70000), .v2BadVersion(3), .v2BadCommand(2),
        .v2BadFamily(0x13), .v2HeaderTooLong(length: 5000, limit: 4096),
        .v2AddressBlockTooShort(family: 0x21, length: 12, required: 36), .v2TLVOverrun(offset: 40),
        .v2CRC32CBadLength(3),
        .v2CRC32CDuplicate, .v2CRC32CMismatch(received: 1, computed: 0xDEAD_BEEF), .v2UniqueIDTooLong(129),
        .v2SSLTooShort(4), .bufferTooSmall(required: 52, available: 16), .tlvValueTooLong(type: 0xE0, length: 70000),
        .v2LengthOverflow(70000),
    ]

    @Test("every code has an error, and every error a readable description")
    func coverage() {
        #expect(Set(Self.oneErrorPerCode.map(\.code)) == Set(ProxyProtocolErrorCode.allCases))
        let errors = Self.oneErrorPerCode + [.v2SSLSubTLVOverrun(offset: 5), .v2NotSSL(type: 2)]
        for error in errors {
            #expect(error.description.count > 20, "\(error.code)")
            #expect(!error.description.hasSuffix("."), "\(error.code)")
        }
        // Each says what went wrong in its own words: no two share a description.
        #expect(Set(errors.map(\.description)).count == errors.count)
        #expect(ProxyProtocolError.v2BadFamily(0x03).description.contains("0x03"))
        #expect(
            ProxyProtocolError.v2CRC32CMismatch(received: 1, computed: 0xDEAD_BEEF).description.contains("0xdeadbeef"))
        #expect(ProxyProtocolError.v2CRC32CMismatch(received: 1, computed: 0).description.contains("0x00000001"))
        #expect(ProxyProtocolError.v1EmptyField(.protocolAndFamily).description.contains("protocol"))
    }
}
