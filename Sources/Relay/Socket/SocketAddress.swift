import Glibc
import ProxyProtocol
import Uring

/// Conversions between `IPEndpoint` and the kernel's `sockaddr` forms. IPv4 peers of a
/// dual-stack socket arrive as `::ffff:a.b.c.d`; they are unmapped here, once, so logs, trust
/// checks and PROXY headers all see the IPv4 address.
extension IPEndpoint {
    init?(_ storage: UnsafePointer<sockaddr_storage>) {
        switch Int32(storage.pointee.ss_family) {
        case AF_INET:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in.self)
            self.init(
                address: .v4(IPv4Address(UInt32(bigEndian: address.sin_addr.s_addr))),
                port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = UnsafeRawPointer(storage).load(as: sockaddr_in6.self)
            let (high, low) = withUnsafeBytes(of: address.sin6_addr) { bytes in
                (UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self.init(
                address: IPAddress.v6(IPv6Address(high: high, low: low)).unmapped,
                port: UInt16(bigEndian: address.sin6_port))
        default:
            return nil
        }
    }

    /// Fills `storage` with this endpoint and returns the length to pass to the kernel.
    func write(to storage: UnsafeMutablePointer<sockaddr_storage>) -> socklen_t {
        storage.initialize(to: sockaddr_storage())
        switch address {
        case .v4(let v4):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = v4.value.bigEndian
            UnsafeMutableRawPointer(storage).storeBytes(of: address, as: sockaddr_in.self)
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        case .v6(let v6):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { bytes in
                bytes.storeBytes(of: v6.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: v6.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            UnsafeMutableRawPointer(storage).storeBytes(of: address, as: sockaddr_in6.self)
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }

    var family: Int32 {
        if case .v4 = address { return AF_INET }
        return AF_INET6
    }
}

/// The remote end of a connected socket.
func peerEndpoint(of socket: Int32) -> IPEndpoint? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(socket, $0, &length) }
    }
    guard result == 0 else { return nil }
    return IPEndpoint(&storage)
}

/// The local end of a socket: for an accepted connection, the address the client dialled.
func localEndpoint(of socket: Int32) -> IPEndpoint? {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let result = withUnsafeMutablePointer(to: &storage) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
    }
    guard result == 0 else { return nil }
    return IPEndpoint(&storage)
}

/// Integer socket options, errors ignored: each caller says why failure is harmless there.
@discardableResult
func setSocketOption(_ socket: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
    var value = value
    return setsockopt(socket, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
}

/// Makes the next close() send RST instead of FIN, so a reset on one side reaches the other.
func armResetOnClose(_ socket: Int32) {
    var option = linger(l_onoff: 1, l_linger: 0)
    _ = setsockopt(socket, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
}

/// Sets O_NONBLOCK; false when the descriptor refused it.
func setNonBlocking(_ socket: Int32) -> Bool {
    let flags = fcntl(socket, F_GETFL)
    return flags >= 0 && fcntl(socket, F_SETFL, flags | O_NONBLOCK) == 0
}

/// The error pending on a socket (SO_ERROR), if any; reading it clears it.
func pendingError(on socket: Int32) -> Errno? {
    var code: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(socket, SOL_SOCKET, SO_ERROR, &code, &length) == 0, code != 0 else { return nil }
    return Errno(rawValue: code)
}
