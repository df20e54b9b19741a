import ArgumentParser
import Glibc
import Relay
import RingwayConfig

/// Prints one line to stderr and exits: the way every start-up problem ends.
func fail(_ message: String, code: Int32 = 1) -> Never {
    let line = "ringway: \(message)\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
    exit(code)
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

var configuration: RingwayConfiguration
do {
    let level = command.debug ? LogLevel.debug : try LogLevel(parsing: command.logLevel)
    let metrics = try command.metrics.map { text throws(ConfigurationError) in try MetricsEndpoint(parsing: text) }
    let drain: Duration
    do {
        drain = try Duration(setting: command.drainTimeout)
    } catch {
        fail("--drain-timeout \"\(command.drainTimeout)\": \(error)", code: 2)
    }
    configuration = try RingwayConfiguration(
        serviceURLs: command.services, nodeURLs: command.nodes, workers: command.workers, logLevel: level,
        metrics: metrics, drainTimeout: drain)
    try configuration.resolveTargets()
} catch {
    fail("\(error)", code: 2)
}

// Signals are read synchronously below; blocked before any worker starts so every thread
// inherits the mask and none is interrupted. Sends use MSG_NOSIGNAL; SIGPIPE is ignored for
// anything else (splice) that could raise it.
signal(SIGPIPE, SIG_IGN)
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stopSignals, signal) }
pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

var options = EngineOptions(
    workers: configuration.workerCount, logLevel: configuration.logLevel, bufferCount: command.buffers,
    bufferSize: command.bufferSize, buffersPerDirection: command.buffersPerDirection,
    drainTimeout: configuration.drainTimeout)
if let text = command.bufferMemory, let limit = ByteSize.parse(text) { options.bufferMemoryLimit = limit }
options.startupWarnings = configuration.warnings
do {
    // The split over workers and pools is checked here, where a bad value is a usage error.
    _ = try BufferPlan(
        memoryLimit: options.bufferMemoryLimit, workers: options.workers, bufferCount: options.bufferCount,
        bufferSize: options.bufferSize)
} catch {
    fail(error.description, code: 2)
}
let engine: Engine
do {
    engine = try Engine(services: configuration.engineServices, options: options)
    try engine.start()
} catch {
    fail(error.description)
}

// First SIGINT/SIGTERM: drain (stop accepting, let connections finish). A second one: stop now.
var draining = false
while !engine.isFinished {
    var timeout = timespec(tv_sec: 0, tv_nsec: 100_000_000)
    let received = sigtimedwait(&stopSignals, nil, &timeout)
    guard received > 0 else { continue }
    if draining {
        engine.stop()
    } else {
        draining = true
        engine.drain()
    }
}
engine.wait()
exit(0)
