import ProxyProtocol
import RingwayConfig

/// The first send upstream: the outgoing PROXY header, encoded in the scratch chunk directly in
/// front of the client bytes that came behind the received header, so both leave in one send.
extension Worker {
    /// Lays out the preamble and returns it; nil when the header cannot be built, after closing
    /// the connection: the client's bytes never go upstream without the header the service
    /// promises.
    mutating func preparePreamble(_ slot: Slot, header received: ProxyHeader?, consumed: Int) -> ByteRange? {
        preparePreamble(slot, header: received, payloadStart: service(slot).pointee.incomingOffset + consumed)
    }

    /// The same, for client bytes that start at `payloadStart` of the chunk (a proxy service puts
    /// the rewritten request head there, right in front of what followed the original one).
    mutating func preparePreamble(_ slot: Slot, header received: ProxyHeader?, payloadStart: Int) -> ByteRange? {
        let connection = slot.connection
        let service = self.service(slot)
        let payloadEnd = service.pointee.incomingOffset + Int(connection.pointee.scratchFilled)
        var start = payloadStart
        if let send = service.pointee.send {
            let header: ProxyHeader
            switch outgoingHeader(slot, send: send, received: received) {
            case .success(let built): header = built
            case .failure(let reason):
                close(slot, reason: reason)
                return nil
            }
            let length = ProxyHeaderEncoder.encodedLength(of: header, appendingCRC32C: send.crc32c)
            // The reserve in front of the incoming area covers the largest header start-up
            // validation allows; anything larger is refused here rather than truncated.
            // A proxy connection's reply area and candidate addresses lie below the reserve.
            let floor = service.pointee.scratchFloor
            guard length <= payloadStart - floor, length <= ProxyHeaderDetector.maximumPossibleHeaderLength else {
                refuseHeader(slot, .proxyHeaderTooLarge, detail: "\(length) bytes")
                return nil
            }
            start = payloadStart - length
            do {
                _ = try ProxyHeaderEncoder.encode(
                    header, appendingCRC32C: send.crc32c,
                    into: UnsafeMutableRawBufferPointer(start: scratch.base(connection.pointee.scratch) + start, count: length))
            } catch {
                refuseHeader(slot, .internalError, detail: "\(error)")
                return nil
            }
            counters.add(.proxyHeadersSent, service: connection.pointee.service)
        }
        connection.pointee.inbound.bytes += UInt64(payloadEnd - payloadStart)
        counters.add(.bytesClientToUpstream, service: connection.pointee.service, UInt64(payloadEnd - payloadStart))
        return ByteRange(start: UInt32(start), end: UInt32(payloadEnd))
    }

    private mutating func refuseHeader(_ slot: Slot, _ reason: CloseReason, detail: String) {
        let fields = logFields(slot)
        log.write(.error) { line in
            fields.write(&line)
            line.field("msg", "cannot encode the PROXY header to send (\(detail)); closing instead of sending without it")
        }
        close(slot, reason: reason)
    }

    /// The header a forwarder sends: the real client (from a received header, else the socket
    /// peer) and the address it originally dialled. An address that cannot be read is a reason
    /// to close, never a LOCAL header: LOCAL would make the upstream believe the relay itself.
    private func outgoingHeader(_ slot: Slot, send: ProxySendConfig, received: ProxyHeader?) -> Result<ProxyHeader, CloseReason> {
        let connection = slot.connection
        let version: ProxyProtocolVersion = send.version == .v1 ? .v1 : .v2
        guard let source = connection.pointee.client else { return .failure(.peerUnknown) }
        guard let destination = connection.pointee.proxiedDestination ?? localEndpoint(slot)
        else { return .failure(.localAddressUnknown) }
        var tlvs: [ProxyTLV] = []
        if version == .v2 {
            if send.passthroughTLVs, let received {
                tlvs = received.tlvs.filter { $0.type != ProxyTLV.crc32c && !(send.uniqueID && $0.type == ProxyTLV.uniqueID) }
            }
            if send.uniqueID { tlvs.append(ProxyTLV(type: ProxyTLV.uniqueID, value: uniqueID(slot))) }
        }
        return .success(.tcp(source: source, destination: destination, version: version, tlvs: tlvs))
    }

    /// The address the client dialled (the local end of its socket).
    func localEndpoint(_ slot: Slot) -> IPEndpoint? {
        (try? kernel.localAddress(of: slot.connection.pointee.clientSocket)).flatMap(IPEndpoint.init)
    }

    /// 16 bytes: process start time and connection id, both big-endian. Unique per process run.
    func uniqueID(_ slot: Slot) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for value in [settings.processStart, slot.connection.pointee.id] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return bytes
    }
}
