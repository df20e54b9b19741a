import Uring

/// Everything a worker asks of the kernel: requests on its ring, and the few socket calls made
/// directly. The engine runs workers on `RingKernel`; the state-machine tests on a scripted
/// kernel that records requests and answers with synthetic completions. Workers are generic over
/// it, so the engine's calls are specialized and direct (no existential on the hot path).
protocol Kernel {
    // Requests on the ring.
    func prepareMultishotAccept(listener: Descriptor, userData: UserData)
    func prepareReceive(socket: Descriptor, bufferGroup: UInt16, pollFirst: Bool, multishot: Bool, userData: UserData)
    func prepareReceive(socket: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData)
    func prepareSend(socket: Descriptor, from buffer: UnsafeRawPointer, length: Int, userData: UserData)
    func prepareConnect(
        socket: Descriptor, address: UnsafePointer<SocketAddress>, timeout: UnsafeMutablePointer<Timeout>,
        userData: UserData, timeoutUserData: UserData)
    func prepareCancelAll(descriptor: Descriptor, userData: UserData)
    func prepareCancel(target: UserData, userData: UserData)
    func prepareRead(descriptor: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData)
    func prepareRead(descriptor: Descriptor, bufferGroup: UInt16, length: Int, userData: UserData)
    func prepareSplice(from source: Descriptor, to destination: Descriptor, length: Int, userData: UserData)
    func preparePoll(descriptor: Descriptor, events: UInt32, userData: UserData)
    func prepareClose(descriptor: Descriptor, userData: UserData)
    /// Prepared requests not yet handed to the kernel.
    var unsubmittedCount: Int { get }
    func register(_ pool: borrowing ProvidedBufferRing) throws(Errno)
    func unregister(_ pool: borrowing ProvidedBufferRing)

    // Direct calls.
    func openSocket(family: Int32) throws(Errno) -> Descriptor
    func peerAddress(of socket: Descriptor) throws(Errno) -> SocketAddress
    func localAddress(of socket: Descriptor) throws(Errno) -> SocketAddress
    func disableNagle(_ socket: Descriptor)
    func setNonBlocking(_ descriptor: Descriptor) throws(Errno)
    func resetOnClose(_ socket: Descriptor)
    func pendingError(of socket: Descriptor) -> Errno?
    func shutdownNow(_ socket: Descriptor)
    /// shutdown(SHUT_WR) as a system call: on the ring it always runs on an io-wq thread.
    func shutdownWriting(_ socket: Descriptor)
    func closeNow(_ descriptor: Descriptor)
    func acceptWaiting(on listener: Descriptor) -> Descriptor?
    func openPipe(capacity: Int32) throws(Errno) -> (read: Descriptor, write: Descriptor)
    func write(_ descriptor: Descriptor, _ bytes: UnsafeRawPointer, count: Int) throws(Errno) -> Int
}

/// The real kernel: a worker's ring and the socket calls of `Descriptor`.
struct RingKernel: Kernel {
    let ring: RingView

    @inline(__always) func prepareMultishotAccept(listener: Descriptor, userData: UserData) {
        ring.prepareMultishotAccept(listener: listener, userData: userData.packed)
    }
    @inline(__always)
    func prepareReceive(socket: Descriptor, bufferGroup: UInt16, pollFirst: Bool, multishot: Bool, userData: UserData) {
        ring.prepareReceive(
            socket: socket, bufferGroup: bufferGroup, pollFirst: pollFirst, multishot: multishot, userData: userData.packed)
    }
    @inline(__always)
    func prepareReceive(socket: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData) {
        ring.prepareReceive(socket: socket, into: buffer, length: length, userData: userData.packed)
    }
    @inline(__always) func prepareSend(socket: Descriptor, from buffer: UnsafeRawPointer, length: Int, userData: UserData) {
        ring.prepareSend(socket: socket, from: buffer, length: length, userData: userData.packed)
    }
    @inline(__always)
    func prepareConnect(
        socket: Descriptor, address: UnsafePointer<SocketAddress>, timeout: UnsafeMutablePointer<Timeout>,
        userData: UserData, timeoutUserData: UserData
    ) {
        ring.prepareConnect(
            socket: socket, address: address, userData: userData.packed, timeout: timeout,
            timeoutUserData: timeoutUserData.packed)
    }
    @inline(__always) func prepareCancelAll(descriptor: Descriptor, userData: UserData) {
        ring.prepareCancelAll(descriptor: descriptor, userData: userData.packed)
    }
    @inline(__always) func prepareCancel(target: UserData, userData: UserData) {
        ring.prepareCancel(target: target.packed, userData: userData.packed)
    }
    @inline(__always)
    func prepareRead(descriptor: Descriptor, into buffer: UnsafeMutableRawPointer, length: Int, userData: UserData) {
        ring.prepareRead(descriptor: descriptor, into: buffer, length: length, userData: userData.packed)
    }
    @inline(__always) func prepareRead(descriptor: Descriptor, bufferGroup: UInt16, length: Int, userData: UserData) {
        ring.prepareRead(descriptor: descriptor, bufferGroup: bufferGroup, length: length, userData: userData.packed)
    }
    @inline(__always) func prepareSplice(from source: Descriptor, to destination: Descriptor, length: Int, userData: UserData) {
        ring.prepareSplice(from: source, to: destination, length: length, userData: userData.packed)
    }
    @inline(__always) func preparePoll(descriptor: Descriptor, events: UInt32, userData: UserData) {
        ring.preparePoll(descriptor: descriptor, events: events, userData: userData.packed)
    }
    @inline(__always) func prepareClose(descriptor: Descriptor, userData: UserData) {
        ring.prepareClose(descriptor: descriptor, userData: userData.packed)
    }
    var unsubmittedCount: Int { ring.unsubmittedCount }
    func register(_ pool: borrowing ProvidedBufferRing) throws(Errno) { try pool.register(with: ring) }
    func unregister(_ pool: borrowing ProvidedBufferRing) { pool.unregister(from: ring) }

    func openSocket(family: Int32) throws(Errno) -> Descriptor { try Descriptor.tcpSocket(family: family) }
    func peerAddress(of socket: Descriptor) throws(Errno) -> SocketAddress { try socket.peerAddress() }
    func localAddress(of socket: Descriptor) throws(Errno) -> SocketAddress { try socket.localAddress() }
    /// Small writes (a PROXY header, an HTTP answer) leave at once; a socket that refuses the
    /// option still works, only with Nagle's delay.
    func disableNagle(_ socket: Descriptor) { try? socket.disableNagle() }
    func setNonBlocking(_ descriptor: Descriptor) throws(Errno) { try descriptor.setNonBlocking() }
    func resetOnClose(_ socket: Descriptor) { socket.resetOnClose() }
    func pendingError(of socket: Descriptor) -> Errno? { socket.pendingError() }
    func shutdownNow(_ socket: Descriptor) { socket.shutdownNow(.both) }
    func shutdownWriting(_ socket: Descriptor) { socket.shutdownNow(.write) }
    func closeNow(_ descriptor: Descriptor) { descriptor.closeNow() }
    func acceptWaiting(on listener: Descriptor) -> Descriptor? { listener.acceptWaiting() }
    func openPipe(capacity: Int32) throws(Errno) -> (read: Descriptor, write: Descriptor) {
        try Descriptor.pipe(capacity: capacity)
    }
    func write(_ descriptor: Descriptor, _ bytes: UnsafeRawPointer, count: Int) throws(Errno) -> Int {
        try descriptor.write(bytes, count: count)
    }
}
