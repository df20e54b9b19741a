import ProxyProtocol
import RingwayConfig
import Uring

/// SOCKS5 (RFC 1928, with RFC 1929 username/password) and SOCKS4/4a, server side: one function
/// per message the client sends.
extension Worker {
    mutating func socks5GreetingStep(_ slot: Slot, _ current: Handshaking, _ bytes: UnsafeRawBufferPointer) {
        var handshaking = current
        switch SOCKS5Greeting.parse(bytes) {
        case .incomplete:
            awaitMoreOfRequest(slot)
        case .invalid(let reason, let method):
            let length = SOCKS5Greeting.writeSelection(method, into: replyArea(slot))
            sendReply(slot, length: length, thenClose: .handshakeInvalid, detail: reason)
        case .complete(let greeting, let consumed):
            let method = greeting.select(requireCredentials: service(slot).pointee.credentials != nil)
            handshaking.consumed += UInt32(consumed)
            handshaking.step = method == .usernamePassword ? .socks5Authentication : .socks5Request
            slot.connection.pointee.phase = .handshaking(handshaking)
            let length = SOCKS5Greeting.writeSelection(method, into: replyArea(slot))
            if method == .noAcceptable {
                let wanted = service(slot).pointee.credentials != nil ? "username/password" : "no authentication"
                sendReply(slot, length: length, thenClose: .authenticationFailed, detail: "the client does not offer \(wanted)")
            } else {
                sendReply(slot, length: length)
            }
        }
    }

    mutating func socks5AuthenticationStep(_ slot: Slot, _ current: Handshaking, _ bytes: UnsafeRawBufferPointer) {
        var handshaking = current
        switch SOCKS5UserPassword.parse(bytes) {
        case .incomplete:
            awaitMoreOfRequest(slot)
        case .invalid(let reason, let status):
            let length = SOCKS5UserPassword.writeStatus(status, into: replyArea(slot))
            sendReply(slot, length: length, thenClose: .handshakeInvalid, detail: reason)
        case .complete(let offered, let consumed):
            let accepted = service(slot).pointee.credentials.map {
                $0.matches(user: UnsafeRawBufferPointer(rebasing: bytes[offered.user]),
                           password: UnsafeRawBufferPointer(rebasing: bytes[offered.password]))
            } ?? false
            handshaking.consumed += UInt32(consumed)
            handshaking.step = .socks5Request
            slot.connection.pointee.phase = .handshaking(handshaking)
            let length = SOCKS5UserPassword.writeStatus(accepted ? .success : .failure, into: replyArea(slot))
            if accepted {
                sendReply(slot, length: length)
            } else {
                sendReply(slot, length: length, thenClose: .authenticationFailed, detail: "wrong user or password")
            }
        }
    }

    mutating func socks5RequestStep(_ slot: Slot, _ current: Handshaking, _ bytes: UnsafeRawBufferPointer, messageStart: Int) {
        var handshaking = current
        switch SOCKS5Request.parse(bytes) {
        case .incomplete:
            awaitMoreOfRequest(slot)
        case .invalid(let reason, let code):
            let length = SOCKS5Reply.write(code, into: replyArea(slot))
            sendReply(slot, length: length, thenClose: .handshakeInvalid, detail: reason)
        case .complete(let request, let consumed):
            guard request.command == .connect else {
                let length = SOCKS5Reply.write(.commandNotSupported, into: replyArea(slot))
                sendReply(slot, length: length, thenClose: .commandNotSupported,
                          detail: "SOCKS5 command \(request.command.byte) (only CONNECT is served)")
                return
            }
            handshaking.consumed += UInt32(consumed)
            slot.connection.pointee.phase = .handshaking(handshaking)
            requestTarget(slot, .socks5, request.target, name: requestedName(slot, request.target, nameBase: messageStart),
                          payloadStart: service(slot).pointee.incomingOffset + Int(handshaking.consumed))
        }
    }

    mutating func socks4RequestStep(_ slot: Slot, _ current: Handshaking, _ bytes: UnsafeRawBufferPointer, messageStart: Int) {
        var handshaking = current
        switch SOCKS4Request.parse(bytes) {
        case .incomplete:
            awaitMoreOfRequest(slot)
        case .invalid(let reason, let code):
            let length = SOCKS4Request.writeReply(code, into: replyArea(slot))
            sendReply(slot, length: length, thenClose: .handshakeInvalid, detail: reason)
        case .complete(let request, let consumed):
            guard request.command == .connect else {
                let length = SOCKS4Request.writeReply(.rejected, into: replyArea(slot))
                sendReply(slot, length: length, thenClose: .commandNotSupported,
                          detail: "SOCKS4 command \(request.command) (only CONNECT is served)")
                return
            }
            // SOCKS4 carries a user id and no password: with credentials configured, only a
            // password-less user named by its id gets in (GOST checks the id with an empty password).
            if let credentials = service(slot).pointee.credentials {
                let offered = UnsafeRawBufferPointer(rebasing: bytes[request.userID])
                guard credentials.password.isEmpty,
                      credentials.matches(user: offered, password: UnsafeRawBufferPointer(start: nil, count: 0))
                else {
                    let length = SOCKS4Request.writeReply(.rejected, into: replyArea(slot))
                    sendReply(slot, length: length, thenClose: .authenticationFailed,
                              detail: "SOCKS4 user id refused (SOCKS4 has no password; use SOCKS5 or HTTP)")
                    return
                }
            }
            handshaking.consumed += UInt32(consumed)
            slot.connection.pointee.phase = .handshaking(handshaking)
            requestTarget(slot, .socks4, request.target, name: requestedName(slot, request.target, nameBase: messageStart),
                          payloadStart: service(slot).pointee.incomingOffset + Int(handshaking.consumed))
        }
    }
}

extension ProxyCredentials {
    /// The user as given, and the password compared in time that does not depend on where a
    /// guess went wrong.
    func matches(user offered: UnsafeRawBufferPointer, password offeredPassword: UnsafeRawBufferPointer) -> Bool {
        offered.elementsEqual(user) && BasicCredentials.constantTimeEqual(offeredPassword, password)
    }
}
