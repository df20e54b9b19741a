/// A successor's confirmation of the sockets it kept (`ListenerHandover`): the tag `K`, a 16-bit
/// count and the 16-bit positions, little endian, of the kept sockets in the list it was handed.
enum KeptSocketsMessage {
    static let tag = UInt8(ascii: "K")
    /// Longer than any confirmation can be: more means the peer is not confirming.
    static let maximumLength = 3 + 2 * Int(UInt16.max)

    enum Decoded: Equatable {
        case kept([Int])
        case invalid(String)
    }

    /// The message for `positions`, or nil when 16 bits cannot name them all.
    static func encode(_ positions: [Int]) -> [UInt8]? {
        guard positions.count <= Int(UInt16.max), positions.allSatisfy({ (0...Int(UInt16.max)).contains($0) }) else {
            return nil
        }
        var message: [UInt8] = [tag]
        for value in [positions.count] + positions { message += [UInt8(value & 0xFF), UInt8(value >> 8)] }
        return message
    }

    /// The whole message a peer sent before hanging up, for a list of `handed` sockets: the
    /// kept positions (sorted, once each), or why there are none.
    static func decode(_ bytes: [UInt8], handed: Int) -> Decoded {
        guard !bytes.isEmpty else { return .invalid("hung up without confirming (it did not start)") }
        guard bytes.count >= 3, bytes[0] == tag else { return .invalid("sent an unknown confirmation") }
        let count = Int(bytes[1]) | Int(bytes[2]) << 8
        guard bytes.count == 3 + 2 * count else { return .invalid("sent a confirmation of the wrong length") }
        var positions = Set<Int>()
        for index in 0..<count {
            let position = Int(bytes[3 + 2 * index]) | Int(bytes[4 + 2 * index]) << 8
            guard position < handed else { return .invalid("confirmed a socket it was not given") }
            positions.insert(position)
        }
        return .kept(positions.sorted())
    }
}
