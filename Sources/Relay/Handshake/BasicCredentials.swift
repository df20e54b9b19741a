/// HTTP Basic credentials (RFC 7617) in a `Proxy-Authorization` value.
@_spi(Fuzzing) public enum BasicCredentials {
    /// The longest value looked at: longer credentials than this are refused, not decoded.
    @_spi(Fuzzing) public static let maximumValueLength = 1024

    /// Whether `headerValue` is `Basic <base64 of user:password>` for the configured pair. The scheme is
    /// case-insensitive and followed by one or more spaces. The password comparison takes the same time
    /// whatever bytes the client sent, up to its length, so that the time of a refusal does not tell how
    /// much of a guess was right; the user name and the lengths are not secret in that way.
    @_spi(Fuzzing) public static func matches(headerValue: UnsafeRawBufferPointer, user: [UInt8], password: [UInt8])
        -> Bool
    {
        let count = headerValue.count
        guard count <= maximumValueLength,
            HTTPHeadScanner.hasPrefixIgnoringCase(headerValue, 0..<count, "basic"),
            count > 5, headerValue[5] == HTTPHeadScanner.space
        else { return false }
        var start = 6
        while start < count, headerValue[start] == HTTPHeadScanner.space { start += 1 }
        let encoded = UnsafeRawBufferPointer(rebasing: headerValue[start..<count])
        return withUnsafeTemporaryAllocation(byteCount: maximumValueLength, alignment: 1) { scratch in
            guard let length = Base64.decode(encoded, into: scratch) else { return false }
            let decoded = UnsafeRawBufferPointer(rebasing: scratch[0..<length])
            // user ":" password; the user cannot hold a colon (RFC 7617 section 2), the password can.
            guard let colon = decoded.firstIndex(of: UInt8(ascii: ":")), colon == user.count,
                decoded[0..<colon].elementsEqual(user)
            else { return false }
            return constantTimeEqual(UnsafeRawBufferPointer(rebasing: decoded[(colon + 1)...]), password)
        }
    }

    /// Compares every byte of `expected`, whatever differs where: the time depends on the lengths only.
    static func constantTimeEqual(_ given: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Bool {
        var difference: UInt8 = given.count == expected.count ? 0 : 1
        for index in 0..<expected.count {
            let other = index < given.count ? given[index] : 0
            difference |= other ^ expected[index]
        }
        return difference == 0
    }
}
