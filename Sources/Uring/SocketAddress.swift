import CLiburing
import Glibc

/// A socket address in the kernel's form (`sockaddr_storage` and its length), built from and read
/// as plain numbers so that nothing above Uring handles `sockaddr`. Stored in stable memory it can
/// be handed to a ring request, which the kernel copies when it takes the request.
public struct SocketAddress: Sendable {
    @usableFromInline
    var storage = sockaddr_storage()
    @usableFromInline
    var length: socklen_t = 0

    public init() {}

    /// IPv4: address and port in host byte order.
    public init(ipv4 address: UInt32, port: UInt16) {
        var value = sockaddr_in()
        value.sin_family = sa_family_t(AF_INET)
        value.sin_port = port.bigEndian
        value.sin_addr.s_addr = address.bigEndian
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: value, as: sockaddr_in.self) }
        length = socklen_t(MemoryLayout<sockaddr_in>.size)
    }

    /// IPv6: the address as two 64-bit halves, most significant first, and the port.
    public init(ipv6 high: UInt64, _ low: UInt64, port: UInt16) {
        var value = sockaddr_in6()
        value.sin6_family = sa_family_t(AF_INET6)
        value.sin6_port = port.bigEndian
        withUnsafeMutableBytes(of: &value.sin6_addr) { bytes in
            bytes.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: value, as: sockaddr_in6.self) }
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    }

    public enum Parts: Sendable, Equatable {
        case ipv4(address: UInt32, port: UInt16)
        case ipv6(high: UInt64, low: UInt64, port: UInt16)
        /// AF_UNIX and the rest: not an IP endpoint.
        case other
    }

    /// The address as numbers, host byte order.
    public var parts: Parts {
        withUnsafeBytes(of: storage) { bytes in
            switch Int32(bytes.load(as: sa_family_t.self)) {
            case AF_INET:
                let value = bytes.load(as: sockaddr_in.self)
                return .ipv4(address: UInt32(bigEndian: value.sin_addr.s_addr), port: UInt16(bigEndian: value.sin_port))
            case AF_INET6:
                let value = bytes.load(as: sockaddr_in6.self)
                let (high, low) = withUnsafeBytes(of: value.sin6_addr) { raw in
                    (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                     UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
                }
                return .ipv6(high: high, low: low, port: UInt16(bigEndian: value.sin6_port))
            default:
                return .other
            }
        }
    }

    /// AF_INET or AF_INET6 (or 0 when empty).
    public var family: Int32 {
        withUnsafeBytes(of: storage) { Int32($0.load(as: sa_family_t.self)) }
    }

    /// An address a libc call writes (getsockname, getpeername); the call's -1 becomes `Errno`.
    static func filled(
        by call: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws(Errno) -> SocketAddress {
        var address = SocketAddress()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address.storage) { storage in
            call(UnsafeMutableRawPointer(storage).assumingMemoryBound(to: sockaddr.self), &length)
        }
        guard result == 0 else { throw Errno.current }
        address.length = length
        return address
    }
}

/// How long a linked timeout waits, in the kernel's form, at a stable address.
public struct Timeout: Sendable {
    @usableFromInline
    var spec: __kernel_timespec

    public init(milliseconds: UInt64) {
        spec = __kernel_timespec(tv_sec: Int64(milliseconds / 1000), tv_nsec: Int64(milliseconds % 1000) * 1_000_000)
    }
}
