import Uring

/// One service slot in this worker: its listening socket, whether it may accept now, the model
/// new connections start on, and its connections here. A reload that removes the service
/// retires the slot: the socket closes, open connections run until the retire deadline, and the
/// worker releases the slot once the last one has gone.
struct ListenerState {
    var socket: Descriptor
    /// The model new connections of this service start on.
    var model: UInt16
    /// That model's maxConnections, kept for connections still queued after a removal.
    var limit: Int?
    /// The multishot accept is armed.
    var armed = false
    /// Accepting stopped until this time (ms), after EMFILE/ENFILE; 0 when not paused.
    var retryAt: UInt64 = 0
    /// Accepting stopped because the service reached maxConnections.
    var atLimit = false
    /// The socket is closed (drain, removal), or the slot never had one.
    var closed = false
    /// Accepting stopped and the socket was made non-blocking, so its backlog can be swept
    /// with plain accepts until it is empty (`stopListening`).
    var sweepable = false
    /// A successor confirmed it kept this socket: stopping leaves its backlog and flags alone.
    /// Read from the engine's registry when accepting stops (`noteHandedOver`), not per turn.
    var handedOver = false
    /// The slot holds a service here (false: never used, or released after a removal).
    var inUse = true
    /// A reload removed the service; its connections may run until `retireDeadline` (ms).
    var retired = false
    var retireDeadline: UInt64 = 0
    /// Connections of this service in this worker, queued ones included.
    var connections: Int32 = 0

    init(socket: Descriptor, model: UInt16, limit: Int?) {
        self.socket = socket
        self.model = model
        self.limit = limit
    }

    static let unused: ListenerState = {
        var state = ListenerState(socket: .none, model: 0, limit: nil)
        state.closed = true
        state.inUse = false
        return state
    }()

    var mayAccept: Bool { inUse && !retired && !armed && !closed && retryAt == 0 && !atLimit }
}

/// This worker's service slots, indexed like the engine's (a listener's index is its service
/// slot; accept completions carry it).
struct Listeners: ~Copyable {
    let states: UnsafeMutableBufferPointer<ListenerState>
    /// One past the highest slot in use: the loops over listeners stop there.
    private(set) var highWater: Int
    /// Accept requests still able to post completions.
    var acceptsInFlight = 0
    /// An EMFILE/ENFILE pause was logged and no accept has succeeded since.
    var pauseLogged = false
    /// Slots retired by a reload and not yet released.
    var retiredCount = 0

    /// `sockets[i]` serves slot i with model i; `capacity` slots in all.
    init(sockets: [Descriptor], limits: [Int?], capacity: Int) {
        states = .allocate(capacity: max(capacity, sockets.count, 1))
        states.initialize(repeating: .unused)
        for (index, socket) in sockets.enumerated() {
            states[index] = ListenerState(socket: socket, model: UInt16(index), limit: limits[index])
        }
        highWater = sockets.count
    }

    /// The worker closes every socket through its kernel first (`closeAll`).
    deinit {
        states.deallocate()
    }

    var indices: Range<Int> { 0..<highWater }

    subscript(_ index: Int) -> ListenerState {
        get { states[index] }
        nonmutating set { states[index] = newValue }
    }

    /// Some listener waits for a retry time or a free place: the loop must tick to resume it.
    var anyPaused: Bool { states[..<highWater].contains { $0.inUse && ($0.retryAt != 0 || $0.atLimit) } }

    /// A slot the engine gave a new service.
    mutating func occupy(_ index: Int, socket: Descriptor, model: UInt16, limit: Int?) {
        states[index] = ListenerState(socket: socket, model: model, limit: limit)
        highWater = max(highWater, index + 1)
    }

    /// Counts a connection of slot `index` opening (+1) or ending (-1). (A compound assignment
    /// through the subscript does not compile under ThreadSanitizer with Swift 6.3.1.)
    func count(_ index: Int, _ delta: Int32) {
        (states.baseAddress! + index).pointee.connections += delta
    }

    /// Closes slot `index`'s socket through `kernel` (the scripted kernel of the state-machine
    /// tests only records it: its descriptors are not the process's).
    func close<K: Kernel>(_ index: Int, _ kernel: K) {
        guard !states[index].closed else { return }
        kernel.closeNow(states[index].socket)
        states[index].closed = true
    }
}
