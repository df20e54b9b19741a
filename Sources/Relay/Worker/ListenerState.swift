/// A listening socket of this worker and whether its multishot accept is armed.
struct ListenerState {
    let socket: Int32
    let service: UInt16
    var armed = false
    /// Accepting stopped until this time (ms), after EMFILE/ENFILE; 0 when not paused.
    var retryAt: UInt64 = 0
    /// Accepting stopped because the service reached maxConnections.
    var atLimit = false
    /// Closed during drain.
    var closed = false
}
