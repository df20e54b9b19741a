/// Stops the process when a property the code under test promises does not hold. libFuzzer reports the
/// trap as a crash and saves the input (`crash-<sha1>`), so a broken invariant is a finding like any other.
/// The message is built only on failure.
@inline(never)
public func invariant(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("invariant broken: \(message())", file: file, line: line)
    }
}

/// `0d0a0d0a...`: bytes as hex, for invariant messages.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var text = ""
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return text
}

/// Text for invariant messages that is built only when it is printed.
public struct ContextText: CustomStringConvertible {
    let make: () -> String
    public init(_ make: @escaping () -> String) { self.make = make }
    public var description: String { make() }
    public var text: String { make() }
}
