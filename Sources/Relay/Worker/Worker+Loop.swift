import Uring

extension Worker where K == RingKernel {
    /// The event loop: submit, wait, handle a batch of completions, then the per-turn work;
    /// until a drain has finished or a stop was requested and every request has completed.
    mutating func run() throws(Errno) {
        armWake()
        for index in listeners.indices { armAccept(index) }
        control.enter(.running)
        while true {
            pools.publish()
            // Timers tick every 10 ms while any are pending (log lines waiting for the output
            // are retried on the same beat), and while a drain waits for the last relayed
            // connections of any worker before closing the metrics endpoint; otherwise only
            // completions (or the wake eventfd) end the wait, with a slow heartbeat as a safety net.
            let busy = timers.count > 0 || listeners.anyPaused || log.hasPending || resolverWatches.pending
                || listeners.retiredCount > 0 || retiredEndpoints != nil || reloadPosted
                || (draining && !metricsEndpointClosed)
            try kernel.ring.submitAndWait(timeoutNanoseconds: busy ? 10_000_000 : 500_000_000)
            now = monotonicMilliseconds()
            applyPostedReload()
            adoptTargetNames()
            while true {
                let count = kernel.ring.reapCompletions(into: completions)
                if count == 0 { break }
                for index in 0..<count { handle(completions[index]) }
            }
            endTurn()
            if draining { closeMetricsEndpointAfterDrain() }
            // The wake read may still be armed; tearing the ring down cancels it.
            if draining && slab.active == 0 && listeners.acceptsInFlight == 0 { break }
            log.flush()
        }
        // Closes of the last connections are prepared but not yet submitted.
        _ = try? kernel.ring.submit()
        // A reload posted as the drain began was never applied: its new sockets are ours to close.
        if let unapplied = control.takeReload() {
            for addition in unapplied.added { addition.socket.closeNow() }
        }
        log.flushBeforeExit()
    }
}

extension Worker {
    /// After a batch of completions: timers, waiting receives, paused listeners, memory, gauges,
    /// and the drain deadline.
    mutating func endTurn() {
        serviceResolver()
        serviceRetiredSlots()
        expireTimers()
        serveBufferWaiters()
        resumePausedListeners()
        pools.trim(now: now, kernel: kernel, zeroDevice: zeroDevice)
        publishGauges()
        if draining && now >= drainDeadline { closeAll(reason: .draining) }
    }

    func publishGauges() {
        counters.set(.buffersInUse, service: 0, UInt64(pools.held))
        counters.set(.buffersProvisioned, service: 0, UInt64(pools.main.circulating))
        counters.set(.bufferMemoryBytes, service: 0, UInt64(pools.circulatingBytes))
        counters.set(.logLinesDropped, service: 0, log.droppedLines)
    }

    func armWake() {
        kernel.prepareRead(descriptor: control.wakeDescriptor, into: wakeBuffer, length: 8, userData: UserData(.wake, slot: 0))
    }

    /// The engine signalled the eventfd: a drain or stop was requested, or a reload posted.
    mutating func handleWake() {
        reloadPosted = true
        switch control.currentCommand {
        case .run: break
        case .drain: beginDrain(deadline: now + settings.drainTimeoutMilliseconds)
        case .stop: beginDrain(deadline: now)
        }
        armWake()
    }
}
