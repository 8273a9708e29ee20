// BallastCore's IPVSReconciler as the loop's IPVSReconciling: it keeps the
// drain book between rounds (a removed destination with open connections
// stays at weight 0 until ipvs.drainTimeout, counted from the round that
// first saw it go), and reports the table as the kernel holds it: the
// round's own dump when nothing was written, one more dump after writes.
import BallastCore
import Synchronization

public final class DrainingIPVSReconciler: IPVSReconciling {
    private let control: any IPVSControl
    private let drainTimeout: Mutex<Duration>
    private let drainBook = Mutex(IPVSDrainBook())

    public init(control: any IPVSControl, drainTimeout: Duration) {
        self.control = control
        self.drainTimeout = Mutex(drainTimeout)
    }

    /// A reload may change ipvs.drainTimeout.
    public func setDrainTimeout(_ timeout: Duration) {
        drainTimeout.withLock { $0 = timeout }
    }

    public func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport {
        let recorder = DumpRecorder(control)
        let reconciler = IPVSReconciler(control: recorder, ownership: ownership,
                                        settings: IPVSReconcileSettings(drainTimeout: drainTimeout.withLock { $0 }))
        var book = drainBook.withLock { $0 }
        let result: IPVSReconcileResult
        do {
            result = try reconciler.reconcile(desired: desired, drainBook: &book, now: ContinuousClock().now)
        } catch {
            return IPVSReconcileReport(errors: [IPVSFailure(service: nil, error: error)])
        }
        drainBook.withLock { $0 = book }

        var report = IPVSReconcileReport(conflicts: result.conflicts.map(\.description), draining: result.draining.count)
        for outcome in result.outcomes {
            report.performed[IPVSOperationKind(outcome.step.operation), default: 0] += 1
            if let error = outcome.error {
                report.errors.append(IPVSFailure(service: outcome.step.operation.serviceKey, error: error))
            }
        }
        if result.writes == 0, let observed = recorder.lastDump {
            report.observed = observed
        } else {
            do {
                report.observed = try control.dump()
            } catch {
                report.errors.append(IPVSFailure(service: nil, error: error))
            }
        }
        return report
    }
}

/// Passes calls through and keeps the last dump, so a round that writes
/// nothing costs exactly one dump.
private final class DumpRecorder: IPVSControl {
    let control: any IPVSControl
    private let last = Mutex<[ObservedVirtualService]?>(nil)

    init(_ control: any IPVSControl) { self.control = control }

    var lastDump: [ObservedVirtualService]? { last.withLock { $0 } }

    func dump() throws(IPVSError) -> [ObservedVirtualService] {
        let table = try control.dump()
        last.withLock { $0 = table }
        return table
    }

    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] { control.perform(operations) }
}
