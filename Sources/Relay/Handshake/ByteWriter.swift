import ProxyProtocol

/// Appends to a caller's buffer and remembers when something did not fit, so that a writer can put down
/// its whole message and check once at the end. Nothing is written past the buffer.
struct ByteWriter {
    let out: UnsafeMutableRawBufferPointer
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ out: UnsafeMutableRawBufferPointer) { self.out = out }

    /// The number of bytes written, or nil when the message did not fit.
    var length: Int? { overflowed ? nil : count }

    private mutating func room(_ needed: Int) -> Bool {
        if overflowed || needed > out.count - count {
            overflowed = true
            return false
        }
        return true
    }

    /// Marks the message as not writable (a field out of range), so that `length` is nil.
    mutating func fail() { overflowed = true }

    mutating func byte(_ value: UInt8) {
        guard room(1) else { return }
        out[count] = value
        count += 1
    }

    mutating func bytes(_ source: UnsafeRawBufferPointer) {
        guard room(source.count) else { return }
        if source.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: out[count..<(count + source.count)]).copyMemory(from: source)
        }
        count += source.count
    }

    mutating func ascii(_ text: StaticString) {
        bytes(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func bigEndian16(_ value: UInt16) {
        byte(UInt8(truncatingIfNeeded: value >> 8))
        byte(UInt8(truncatingIfNeeded: value))
    }

    mutating func decimal(_ value: UInt16) {
        var divisor: UInt16 = 10_000
        var started = false
        while divisor > 0 {
            let digit = value / divisor % 10
            if digit != 0 || started || divisor == 1 {
                started = true
                byte(UInt8(ascii: "0") + UInt8(digit))
            }
            divisor /= 10
        }
    }

    /// Network-order address bytes: 4 or 16.
    mutating func addressBytes(_ address: IPAddress) {
        switch address {
        case .v4(let v4):
            let octets = v4.octets
            byte(octets.0)
            byte(octets.1)
            byte(octets.2)
            byte(octets.3)
        case .v6(let v6):
            for index in 0..<16 { byte(v6.byte(index)) }
        }
    }

    /// The address as text; IPv6 in brackets when `bracketed` (as authorities write it).
    mutating func addressText(_ address: IPAddress, bracketed: Bool) {
        withUnsafeTemporaryAllocation(byteCount: 39, alignment: 1) { scratch in
            switch address {
            case .v4(let v4):
                bytes(UnsafeRawBufferPointer(rebasing: scratch[0..<v4.writeText(into: scratch, at: 0)]))
            case .v6(let v6):
                if bracketed { byte(UInt8(ascii: "[")) }
                bytes(UnsafeRawBufferPointer(rebasing: scratch[0..<v6.writeText(into: scratch, at: 0)]))
                if bracketed { byte(UInt8(ascii: "]")) }
            }
        }
    }

    /// `host:port` as a CONNECT target or Host value writes it. A name is copied from `names`; nil
    /// (overflowed) when its range lies outside.
    mutating func authority(_ host: RequestedHost, port: UInt16?, names: UnsafeRawBufferPointer) {
        switch host {
        case .address(let address):
            addressText(address, bracketed: true)
        case .name(let start, let count):
            guard start >= 0, count >= 0, count <= names.count - start else {
                fail()
                return
            }
            bytes(UnsafeRawBufferPointer(rebasing: names[start..<(start + count)]))
        }
        if let port {
            byte(UInt8(ascii: ":"))
            decimal(port)
        }
    }
}
