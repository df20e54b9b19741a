import Uring

/// Why a notification could not be sent.
public enum NotifyError: Error, Equatable, CustomStringConvertible {
    case address(NotifySocketAddressError)
    case socket(operation: String, Errno)

    public var description: String {
        switch self {
        case .address(let error): return error.description
        case .socket(let operation, let errno): return "\(operation): \(errno)"
        }
    }
}
