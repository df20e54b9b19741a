import Glibc
import ProxyProtocol
import RingwayConfig
import Uring

/// The HTTP proxy request, server side: `CONNECT host:port` opens a tunnel; an absolute-form
/// request (`GET http://host/path`) goes to its origin rewritten in origin form, without
/// `Proxy-*` headers, and the connection is then relayed as it stands (as GOST's http handler
/// does). With credentials configured a request without the right `Proxy-Authorization` gets 407.
extension Worker {
    mutating func httpRequestStep(_ slot: Slot, _ current: Handshaking, _ bytes: UnsafeRawBufferPointer, messageStart: Int) {
        var handshaking = current
        let service = self.service(slot)
        let room = service.pointee.incomingCapacity - Int(handshaking.consumed)
        switch HTTPProxyRequest.parse(bytes, maximumHeadLength: room) {
        case .incomplete:
            awaitMoreOfRequest(slot)
        case .invalid(let reason, let status):
            sendReply(slot, length: status.write(into: replyArea(slot)), thenClose: .handshakeInvalid, detail: reason)
        case .complete(let request, let consumed):
            if let credentials = service.pointee.credentials {
                let offered = request.proxyAuthorization.map { UnsafeRawBufferPointer(rebasing: bytes[$0]) }
                guard let offered, BasicCredentials.matches(headerValue: offered, user: credentials.user, password: credentials.password)
                else {
                    let detail = request.proxyAuthorization == nil ? "no Proxy-Authorization" : "wrong user or password"
                    sendReply(slot, length: HTTPProxyStatus.proxyAuthenticationRequired.write(into: replyArea(slot)),
                              thenClose: .authenticationFailed, detail: detail)
                    return
                }
            }
            handshaking.consumed += UInt32(consumed)
            slot.connection.pointee.phase = .handshaking(handshaking)
            let headEnd = service.pointee.incomingOffset + Int(handshaking.consumed)
            // Copied out before the rewrite below lays the new head over the old one.
            let name = requestedName(slot, request.target, nameBase: messageStart)
            if request.isConnect {
                requestTarget(slot, .httpConnect, request.target, name: name, payloadStart: headEnd)
                return
            }
            // The origin-form head replaces the absolute-form one, ending where it ended, so the
            // bytes behind it follow in the same send.
            let chunk = scratch.base(slot.connection.pointee.scratch)
            let written: Int? = withUnsafeTemporaryAllocation(byteCount: consumed + ProxyScratchLayout.rewriteGrowth, alignment: 1) { temporary in
                guard let length = request.writeOriginForm(head: bytes, into: temporary) else { return nil }
                let start = headEnd - length
                guard start >= ProxyScratchLayout.candidatesEnd else { return nil }
                (chunk + start).copyMemory(from: temporary.baseAddress!, byteCount: length)
                return length
            }
            guard let written else {
                sendReply(slot, length: HTTPProxyStatus.badRequest.write(into: replyArea(slot)), thenClose: .handshakeInvalid,
                          detail: "the request head does not fit once rewritten")
                return
            }
            requestTarget(slot, .httpForward, request.target, name: name, payloadStart: headEnd - written)
        }
    }
}
