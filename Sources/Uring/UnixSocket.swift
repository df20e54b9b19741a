import CLiburing
import Glibc

/// Unix stream sockets that carry descriptors (SCM_RIGHTS): how a Ringway process hands its
/// listening sockets to its successor.
extension Descriptor {
    /// The most descriptors one message carries (the kernel's SCM_MAX_FD is 253).
    public static let descriptorsPerMessage = 250

    /// Listens on `path` for this user only: the socket is bound under a temporary name beside
    /// it, made 0600 and renamed over `path`, so a successor replaces it in one step and a
    /// client never finds the name missing.
    public static func unixListener(path: String) throws(Errno) -> Descriptor {
        let temporary = path + ".\(getpid()).new"
        unlink(temporary)
        let socket = Descriptor(rawValue: try systemCall {
            Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue | SOCK_NONBLOCK.rawValue), 0)
        })
        do {
            try socket.withUnixAddress(temporary) { address, length throws(Errno) in
                _ = try systemCall { Glibc.bind(socket.rawValue, address, length) }
            }
            _ = try systemCall { chmod(temporary, 0o600) }
            _ = try systemCall { Glibc.listen(socket.rawValue, 8) }
            _ = try systemCall { rename(temporary, path) }
        } catch {
            unlink(temporary)
            socket.closeNow()
            throw error
        }
        return socket
    }

    /// A blocking connection to the Unix socket at `path`, with send and receive timeouts.
    public static func unixConnection(path: String, timeoutSeconds: Int) throws(Errno) -> Descriptor {
        let socket = Descriptor(rawValue: try systemCall {
            Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        })
        do {
            socket.setTimeouts(seconds: timeoutSeconds)
            try socket.withUnixAddress(path) { address, length throws(Errno) in
                _ = try systemCall { Glibc.connect(socket.rawValue, address, length) }
            }
        } catch {
            socket.closeNow()
            throw error
        }
        return socket
    }

    /// SO_RCVTIMEO and SO_SNDTIMEO.
    public func setTimeouts(seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(rawValue, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(rawValue, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The process and user at the other end of a Unix socket (SO_PEERCRED).
    public func peerCredentials() throws(Errno) -> (pid: Int32, uid: UInt32) {
        var credentials = ringway_ucred()
        var length = socklen_t(MemoryLayout<ringway_ucred>.size)
        _ = try systemCall { getsockopt(rawValue, SOL_SOCKET, ringway_SO_PEERCRED, &credentials, &length) }
        return (credentials.pid, credentials.uid)
    }

    /// Whether this is a TCP socket in the listening state (SO_ACCEPTCONN, SO_PROTOCOL).
    public var isListeningTCPSocket: Bool {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(rawValue, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        return option(SO_ACCEPTCONN) == 1 && option(SO_PROTOCOL) == Int32(IPPROTO_TCP)
    }

    /// Sends one byte, `tag`, with `descriptors` (at most `descriptorsPerMessage`) attached.
    public func sendDescriptors(_ descriptors: [Descriptor], tag: UInt8) throws(Errno) {
        precondition(descriptors.count <= Self.descriptorsPerMessage)
        let payload = descriptors.count * MemoryLayout<Int32>.size
        var control = [UInt8](repeating: 0, count: max(ringway_cmsg_space(payload), 1))
        var byte = tag
        let sent = Self.withOneByteMessage(&byte, control: &control) { message in
            if !descriptors.isEmpty {
                message.msg_controllen = ringway_cmsg_space(payload)
                let header = ringway_cmsg_firsthdr(&message)!
                header.pointee.cmsg_level = SOL_SOCKET
                header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                header.pointee.cmsg_len = ringway_cmsg_len(payload)
                let data = UnsafeMutableRawPointer(ringway_cmsg_data(header)!)
                for (index, descriptor) in descriptors.enumerated() {
                    data.storeBytes(of: descriptor.rawValue, toByteOffset: index * 4, as: Int32.self)
                }
            } else {
                message.msg_control = nil
                message.msg_controllen = 0
            }
            return sendmsg(rawValue, &message, Int32(MSG_NOSIGNAL))
        }
        if sent < 0 { throw Errno.current }
        if sent != 1 { throw Errno(rawValue: EIO) }
    }

    /// Receives one tagged message and the descriptors attached to it (close-on-exec); nil at
    /// end of stream. Descriptors beyond what fits are dropped by the kernel (MSG_CTRUNC), which
    /// is reported as EMSGSIZE after closing the ones that arrived.
    public func receiveDescriptors() throws(Errno) -> (tag: UInt8, descriptors: [Descriptor])? {
        let room = ringway_cmsg_space(Self.descriptorsPerMessage * MemoryLayout<Int32>.size)
        var control = [UInt8](repeating: 0, count: room)
        var byte: UInt8 = 0
        var received: [Descriptor] = []
        var flags: Int32 = 0
        let count = Self.withOneByteMessage(&byte, control: &control) { message in
            var result: Int
            repeat {
                result = recvmsg(rawValue, &message, ringway_MSG_CMSG_CLOEXEC)
            } while result < 0 && errno == EINTR
            guard result >= 0 else { return result }
            flags = message.msg_flags
            var header = ringway_cmsg_firsthdr(&message)
            while let current = header {
                if current.pointee.cmsg_level == SOL_SOCKET && current.pointee.cmsg_type == Int32(SCM_RIGHTS) {
                    let bytes = Int(current.pointee.cmsg_len) - ringway_cmsg_len(0)
                    let data = UnsafeRawPointer(ringway_cmsg_data(current)!)
                    for index in 0..<(bytes / 4) {
                        received.append(Descriptor(rawValue: data.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
                    }
                }
                header = ringway_cmsg_nxthdr(&message, current)
            }
            return result
        }
        if count < 0 { throw Errno.current }
        if flags & Int32(MSG_CTRUNC) != 0 {
            received.forEach { $0.closeNow() }
            throw Errno(rawValue: EMSGSIZE)
        }
        if count == 0 {
            received.forEach { $0.closeNow() }
            return nil
        }
        return (byte, received)
    }

    /// A message of the one byte `byte` with `control` as its control buffer (msg_controllen
    /// set to all of it), for `body` to send or receive.
    private static func withOneByteMessage(
        _ byte: inout UInt8, control: inout [UInt8], _ body: (inout msghdr) -> Int
    ) -> Int {
        withUnsafeMutablePointer(to: &byte) { bytePointer in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: bytePointer, iov_len: 1)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    return body(&message)
                }
            }
        }
    }

    private func withUnixAddress(
        _ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws(Errno) -> Void
    ) throws(Errno) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { throw Errno(rawValue: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + 1)
        try withUnsafePointer(to: &address) { pointer throws(Errno) in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address throws(Errno) in
                try body(address, length)
            }
        }
    }
}
