import Uring

/// A listening socket of this worker and whether it may accept now.
struct ListenerState {
    let socket: Descriptor
    let service: UInt16
    /// The multishot accept is armed.
    var armed = false
    /// Accepting stopped until this time (ms), after EMFILE/ENFILE; 0 when not paused.
    var retryAt: UInt64 = 0
    /// Accepting stopped because the service reached maxConnections.
    var atLimit = false
    /// Closed during drain.
    var closed = false

    var mayAccept: Bool { !armed && !closed && retryAt == 0 && !atLimit }
}

/// This worker's listening sockets, one per service, in service order.
struct Listeners: ~Copyable {
    let states: UnsafeMutableBufferPointer<ListenerState>
    /// Accept requests still able to post completions.
    var acceptsInFlight = 0
    /// An EMFILE/ENFILE pause was logged and no accept has succeeded since.
    var pauseLogged = false

    init(sockets: [Descriptor]) {
        states = .allocate(capacity: sockets.count)
        for (index, socket) in sockets.enumerated() {
            (states.baseAddress! + index).initialize(to: ListenerState(socket: socket, service: UInt16(index)))
        }
    }

    deinit {
        for listener in states where !listener.closed { listener.socket.closeNow() }
        states.deallocate()
    }

    var indices: Range<Int> { states.indices }

    subscript(_ index: Int) -> ListenerState {
        get { states[index] }
        nonmutating set { states[index] = newValue }
    }

    /// Some listener waits for a retry time or a free place: the loop must tick to resume it.
    var anyPaused: Bool { states.contains { $0.retryAt != 0 || $0.atLimit } }

    func close(_ index: Int) {
        guard !states[index].closed else { return }
        states[index].socket.closeNow()
        states[index].closed = true
    }
}
