import Glibc
import ProxyProtocol
@testable import Relay
import RingwayConfig
import Uring

/// A kernel for driving a worker's state machine without sockets: it records every request the
/// worker prepares and answers the direct calls from a script (fake descriptors, configured peer
/// addresses). The test then plays the kernel's part by handing the worker completions.
final class ScriptedKernel: Kernel {
    /// One prepared request.
    struct Request: CustomStringConvertible {
        let userData: UserData
        let descriptor: Descriptor
        /// Bytes to send (copied when prepared), or the room a receive or read offers.
        var bytes: [UInt8] = []
        var length = 0
        var bufferGroup: UInt16? = nil
        /// For a provided-buffer receive: it stays armed while its completions carry F_MORE.
        var multishot = false
        /// For a receive into caller memory: where the kernel would write.
        var into: UnsafeMutableRawPointer? = nil
        /// For a connect: where to.
        var address: SocketAddress? = nil
        /// For a cancel of one request: the request it targets.
        var target: UserData? = nil

        var description: String { "\(userData.verb)(\(userData.side), slot \(userData.slot)) on \(descriptor)" }
    }

    private(set) var requests: [Request] = []
    private(set) var closedNow: [Descriptor] = []
    private(set) var resetOnClose: Set<Int32> = []
    private(set) var shutdownNow: [Descriptor] = []
    /// Sockets shut down for writing (a direction passed its FIN on), in order.
    private(set) var shutdownWrites: [Descriptor] = []
    private var nextDescriptor: Int32 = 1000
    /// Peer and local addresses the socket calls report, per descriptor.
    var peers: [Int32: IPEndpoint] = [:]
    /// SO_ERROR of each socket: set by a test to script a reset.
    var socketErrors: [Int32: Errno] = [:]
    var locals: [Int32: IPEndpoint] = [:]
    /// What `openSocket` answers next (nil: a fresh descriptor).
    var socketFailure: Errno? = nil

    func newDescriptor() -> Descriptor {
        nextDescriptor += 1
        return Descriptor(rawValue: nextDescriptor)
    }

    /// Takes the requests prepared so far (and forgets them).
    func take() -> [Request] {
        defer { requests = [] }
        return requests
    }

    private func record(_ request: Request) { requests.append(request) }

    func prepareMultishotAccept(listener: Descriptor, userData: UserData) {
        record(Request(userData: userData, descriptor: listener))
    }
    func prepareReceive(socket: Descriptor, bufferGroup: UInt16, pollFirst: Bool, multishot: Bool, userData: UserData) {
        record(Request(userData: userData, descriptor: socket, bufferGroup: bufferGroup, multishot: multishot))
    }
    func prepareReceive(socket: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData) {
        record(Request(userData: userData, descriptor: socket, length: length, into: buffer))
    }
    func prepareSend(socket: Descriptor, from buffer: UnsafeRawPointer, length: Int, userData: UserData) {
        record(Request(userData: userData, descriptor: socket, bytes: Array(UnsafeRawBufferPointer(start: buffer, count: length)), length: length))
    }
    func prepareConnect(
        socket: Descriptor, address: UnsafePointer<SocketAddress>, timeout: UnsafeMutablePointer<Timeout>,
        userData: UserData, timeoutUserData: UserData
    ) {
        record(Request(userData: userData, descriptor: socket, address: address.pointee))
        record(Request(userData: timeoutUserData, descriptor: socket))
    }
    func prepareCancelAll(descriptor: Descriptor, userData: UserData) {
        record(Request(userData: userData, descriptor: descriptor))
    }
    func prepareCancel(target: UserData, userData: UserData) {
        record(Request(userData: userData, descriptor: .none, target: target))
    }
    func prepareRead(descriptor: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData) {
        record(Request(userData: userData, descriptor: descriptor, length: length, into: buffer))
    }
    func prepareRead(descriptor: Descriptor, bufferGroup: UInt16, length: Int, userData: UserData) {
        record(Request(userData: userData, descriptor: descriptor, length: length, bufferGroup: bufferGroup))
    }
    func prepareSplice(from source: Descriptor, to destination: Descriptor, length: Int, userData: UserData) {
        record(Request(userData: userData, descriptor: source, length: length))
    }
    func preparePoll(descriptor: Descriptor, events: UInt32, userData: UserData) {
        record(Request(userData: userData, descriptor: descriptor))
    }
    func prepareClose(descriptor: Descriptor, userData: UserData) { record(Request(userData: userData, descriptor: descriptor)) }
    var unsubmittedCount: Int { 0 }
    func register(_ pool: borrowing ProvidedBufferRing) throws(Errno) {}
    func unregister(_ pool: borrowing ProvidedBufferRing) {}

    func openSocket(family: Int32) throws(Errno) -> Descriptor {
        if let failure = socketFailure { throw failure }
        return newDescriptor()
    }
    func peerAddress(of socket: Descriptor) throws(Errno) -> SocketAddress {
        guard let peer = peers[socket.rawValue] else { throw Errno(rawValue: ENOTCONN) }
        return peer.socketAddress
    }
    func localAddress(of socket: Descriptor) throws(Errno) -> SocketAddress {
        (locals[socket.rawValue] ?? IPEndpoint(address: .v4(.loopback), port: 8080)).socketAddress
    }
    func disableNagle(_ socket: Descriptor) {}
    func setNonBlocking(_ descriptor: Descriptor) throws(Errno) {}
    func resetOnClose(_ socket: Descriptor) { resetOnClose.insert(socket.rawValue) }
    func pendingError(of socket: Descriptor) -> Errno? { socketErrors.removeValue(forKey: socket.rawValue) }
    func shutdownNow(_ socket: Descriptor) { shutdownNow.append(socket) }
    func shutdownWriting(_ socket: Descriptor) { shutdownWrites.append(socket) }
    func closeNow(_ descriptor: Descriptor) { closedNow.append(descriptor) }
    /// Clients the kernel holds in a listener's backlog, taken by non-blocking accepts in order.
    var backlogs: [Int32: [Descriptor]] = [:]
    func acceptWaiting(on listener: Descriptor) -> Descriptor? {
        guard let next = backlogs[listener.rawValue]?.first else { return nil }
        backlogs[listener.rawValue]?.removeFirst()
        return next
    }
    func openPipe(capacity: Int32) throws(Errno) -> (read: Descriptor, write: Descriptor) { (newDescriptor(), newDescriptor()) }
    func write(_ descriptor: Descriptor, _ bytes: UnsafeRawPointer, count: Int) throws(Errno) -> Int { count }
}
