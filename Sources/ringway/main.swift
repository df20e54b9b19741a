import ArgumentParser
import Glibc
import Relay
import RingwayConfig
import RingwayConfigFile
import SystemdNotify

/// Prints one line to stderr and exits: the way every start-up problem ends.
func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = "ringway: \(message)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(code)
}

// Swift's runtime on Linux finds argv by locating the stack in /proc/self/maps. Without /proc (a
// chroot, a bare container root) it finds none, not even the program's name, and ringway would
// start from /etc/ringway/ringway.yaml as if no flag had been given: refuse instead.
if CommandLine.arguments.isEmpty {
    fail("cannot read the command line: Swift's runtime finds it through /proc/self/maps; mount /proc")
}

let command: RingwayCommand
do {
    var parsed = try RingwayCommand.parseAsRoot()
    guard let ringway = parsed as? RingwayCommand else {
        // --help and friends come back as their own command; running it prints the text.
        try parsed.run()
        exit(0)
    }
    command = ringway
} catch {
    // --help and --version are "errors" that succeed; everything else is one line.
    if RingwayCommand.exitCode(for: error) == .success {
        print(RingwayCommand.fullMessage(for: error))
        exit(0)
    }
    fail(UsageMessage.oneLine(RingwayCommand.message(for: error)), code: 2)
}

let source: ConfigurationSource
var configuration: RingwayConfiguration
do {
    source = try ConfigurationSource(command)
    configuration = try source.load()
} catch {
    fail("\(error)", code: 2)
}

// -O prints what the command line and files produce and starts nothing; --check (below) validates
// everything that needs no network (no name lookups, no sockets) and says so.
if let format = command.outputFormat {
    print(ConfigFile.render(configuration, as: format), terminator: "")
    exit(0)
}
if !command.check {
    do {
        try configuration.resolveTargets()
    } catch {
        fail("\(error)", code: 2)
    }
}

// Signals are read synchronously below; blocked before any worker starts so every thread
// inherits the mask and none is interrupted. Sends use MSG_NOSIGNAL; SIGPIPE is ignored for
// anything else (splice) that could raise it.
signal(SIGPIPE, SIG_IGN)
var handledSignals = sigset_t()
sigemptyset(&handledSignals)
for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&handledSignals, signal) }
pthread_sigmask(SIG_BLOCK, &handledSignals, nil)

var options = EngineOptions(
    workers: configuration.workerCount, logLevel: configuration.logLevel, bufferCount: command.buffers,
    bufferSize: command.bufferSize, buffersPerDirection: command.buffersPerDirection,
    drainTimeout: configuration.drainTimeout)
if let text = command.bufferMemory, let limit = ByteSize.parse(text) { options.bufferMemoryLimit = limit }
options.startupWarnings = configuration.warnings
options.multishotReceive = !command.singleShotReceive
do {
    // The split over workers and pools is checked here, where a bad value is a usage error.
    _ = try BufferPlan(
        memoryLimit: options.bufferMemoryLimit, workers: options.workers, bufferCount: options.bufferCount,
        bufferSize: options.bufferSize)
} catch {
    fail(error.description, code: 2)
}
if command.check {
    let origin = source.filePath.map { " (\($0))" } ?? ""
    print("ringway: configuration\(origin) is valid: \(configuration.services.count) service\(configuration.services.count == 1 ? "" : "s")")
    exit(0)
}
// Zero-loss replacement (README): with --handover-socket, a running predecessor's listening
// sockets are taken over before anything is bound; without it, a successor on the same ports
// relies on the kernel moving queued clients over, and start-up says when it will not.
var inherited: InheritedListeners?
var predecessor: Int32?
if let path = command.handoverSocket {
    switch ListenerHandover.takeOver(from: path) {
    case .noPredecessor:
        break
    case .received(let listeners, let pid):
        (inherited, predecessor) = (listeners, pid)
    case .failed(let reason):
        options.startupWarnings.append("no listening sockets taken over: \(reason); binding new ones")
        // Beside a predecessor on the same ports now, as without a handover.
        if let warning = QueuedConnectionMigration.warning() { options.startupWarnings.append(warning) }
    }
} else if let warning = QueuedConnectionMigration.warning() {
    options.startupWarnings.append(warning)
}
let engine: Engine
do {
    engine = try Engine(services: configuration.engineServices, options: options, inheriting: inherited)
    try engine.start()
} catch {
    fail(error.description)
}
if let predecessor, let inherited {
    // Running: tell the predecessor which of its sockets we kept, so its drain leaves them alone.
    if let failure = inherited.confirmKept() {
        engine.note("cannot tell pid \(predecessor) which sockets were kept: \(failure); it keeps them as its own", kind: "handover", level: .warn)
    }
    engine.note(
        "took over \(engine.inheritedSocketsUsed) of the \(inherited.count) listening sockets of pid \(predecessor); "
            + "SIGTERM it to let it drain", kind: "handover")
}
// Serves the path only now, once running: a successor that failed to start leaves it to its predecessor.
var handoverServer: ListenerHandover.Server?
if let path = command.handoverSocket {
    do {
        handoverServer = try ListenerHandover.Server(path: path)
    } catch {
        engine.note("cannot serve \(path): \(error); a successor will bind sockets of its own", kind: "handover", level: .warn)
    }
}
// Every worker accepts on every service now: tell systemd (Type=notify), if it asked.
let reports = ServiceManagerReports(engine: engine, notifier: ServiceNotifier.fromEnvironment())
reports.ready()

/// SIGHUP: read the configuration again and apply it; anything that does not validate, resolve
/// or bind leaves the running configuration as it is.
func reload() -> ReloadOutcome {
    guard source.canReload else {
        let reason = "the configuration came from standard input, which cannot be read again; nothing changed"
        engine.refuseReload(reason)
        return .refused(reason)
    }
    do {
        var next = try source.load()
        try next.resolveTargets()
        let summary = try engine.reload(services: next.engineServices, logLevel: next.logLevel, warnings: next.warnings)
        return .applied(summary.description)
    } catch let error as ReloadError {
        return .refused(error.description)  // the engine logged and counted it
    } catch {
        engine.refuseReload("\(error); the running configuration is kept")
        return .refused("\(error)")
    }
}

// First SIGINT/SIGTERM: drain (stop accepting, let connections finish). A second one: stop now.
// Handovers are answered on this thread too, so sockets are never handed over as a drain closes them.
var draining = false
while !engine.isFinished {
    var timeout = timespec(tv_sec: 0, tv_nsec: handoverServer == nil ? 100_000_000 : 20_000_000)
    let received = sigtimedwait(&handledSignals, nil, &timeout)
    handoverServer?.serveWaiting(engine)
    reports.tick()
    guard received > 0 else { continue }
    if received == SIGHUP {
        guard !draining else { continue }
        reports.reloading()
        reports.reloaded(reload())
    } else if draining {
        reports.stoppingNow()
        engine.stop()
    } else {
        draining = true
        // A successor still starting says which sockets it keeps; the drain must leave those alone.
        handoverServer?.awaitConfirmations(engine)
        handoverServer?.close(engine)
        handoverServer = nil
        reports.drainStarted(timeout: configuration.drainTimeout)
        engine.drain()
    }
}
engine.wait()
exit(0)
