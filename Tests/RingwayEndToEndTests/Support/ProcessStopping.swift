import Foundation
import Glibc
import RingwayTestSupport

extension Process {
    /// SIGTERM, then SIGKILL after `grace` seconds. Children of the test runner's threads may
    /// inherit a mask with SIGTERM blocked (single-process nginx never unblocks it), hence the
    /// escalation.
    func stop(grace: Double) {
        guard isRunning else { return }
        terminate()
        if !becomesTrue(within: grace, { !isRunning }) { kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }
}
