// One reconcile round against the kernel: dump once, diff in memory, perform
// every write in one batch. kube-proxy's IPVS proxier asks the kernel about
// each service and destination separately (k8s#84906), which costs three
// round trips per service per sync; here a round costs one dump plus one
// batched perform, and a round with nothing to change costs the dump alone.

/// The outcome of one planned operation.
public struct IPVSOperationOutcome: Sendable, CustomStringConvertible {
    public var step: IPVSPlannedOperation
    public var result: Result<Void, IPVSError>

    public init(step: IPVSPlannedOperation, result: Result<Void, IPVSError>) {
        self.step = step
        self.result = result
    }

    public var error: IPVSError? {
        if case .failure(let e) = result { return e }
        return nil
    }

    public var succeeded: Bool { error == nil }

    public var description: String {
        if let error { return "FAILED \(step): \(error.reason)" }
        return step.description
    }
}

/// What one reconcile round did.
public struct IPVSReconcileResult: Sendable {
    /// The plan: every step, draining destinations and conflicts.
    public var diff: IPVSDiff
    /// One entry per step of `diff`, in order.
    public var outcomes: [IPVSOperationOutcome]
    /// Dumps of the kernel table this round took: 1, or 0 when the caller
    /// diffed against a table it keeps (`perform(_:drainBook:)`).
    public var dumps: Int

    public init(diff: IPVSDiff, outcomes: [IPVSOperationOutcome], dumps: Int) {
        self.diff = diff
        self.outcomes = outcomes
        self.dumps = dumps
    }

    /// Writes sent to the kernel (successful or not).
    public var writes: Int { outcomes.count }
    public var failures: [IPVSOperationOutcome] { outcomes.filter { !$0.succeeded } }
    public var draining: [IPVSDrainingDestination] { diff.draining }
    public var conflicts: [IPVSConflict] { diff.conflicts }
    /// Every write succeeded and nothing desired was refused.
    public var isClean: Bool { failures.isEmpty && conflicts.isEmpty }
}

/// Reconciles the kernel's IPVS table with a desired table, touching only
/// what `ownership` owns. Holds no state between rounds apart from the drain
/// book its caller passes in.
public struct IPVSReconciler: Sendable {
    public let control: any IPVSControl
    public var ownership: IPVSOwnership
    public var settings: IPVSReconcileSettings

    public init(control: any IPVSControl, ownership: IPVSOwnership,
                settings: IPVSReconcileSettings = IPVSReconcileSettings()) {
        self.control = control
        self.ownership = ownership
        self.settings = settings
    }

    /// Dumps the table once and computes what a reconcile would do, without
    /// writing anything (`ballastctl ipvs apply --dry-run`).
    public func plan(desired: [IPVSVirtualService], drainBook: IPVSDrainBook = IPVSDrainBook(),
                     now: ContinuousClock.Instant) throws(IPVSError) -> IPVSDiff {
        IPVSDiff(desired: desired, observed: try control.dump(), ownership: ownership,
                 drainBook: drainBook, settings: settings, now: now)
    }

    /// Dumps once, diffs, and performs every write in one batch; `drainBook`
    /// is updated for the next round. A round with nothing to change writes
    /// nothing at all: `perform` is not called. One failed write does not stop
    /// the others; each is reported in the result and retried by the next
    /// round, which starts from a fresh dump.
    ///
    /// Throws only when the dump fails, and then writes nothing.
    public func reconcile(desired: [IPVSVirtualService], drainBook: inout IPVSDrainBook,
                          now: ContinuousClock.Instant) throws(IPVSError) -> IPVSReconcileResult {
        let diff = try plan(desired: desired, drainBook: drainBook, now: now)
        var result = perform(diff, drainBook: &drainBook)
        result.dumps = 1
        return result
    }

    /// Performs every write of `diff`, computed by the caller against a table
    /// it keeps (the daemon's IPVSKnownTable between full dumps), in one
    /// batch; `drainBook` (the one the diff was computed with) is updated for
    /// the next round.
    public func perform(_ diff: IPVSDiff, drainBook: inout IPVSDrainBook) -> IPVSReconcileResult {
        let outcomes = perform(diff)
        var book = diff.drainBook
        // A delete that failed leaves the destination in the kernel; keep its
        // drain start so the next round does not restart the timeout.
        for outcome in outcomes where !outcome.succeeded {
            if case .deleteDestination(let key, let endpoint) = outcome.step.operation {
                let id = IPVSDestinationID(service: key, endpoint: endpoint)
                if let since = drainBook[id] { book[id] = since }
            }
        }
        drainBook = book
        return IPVSReconcileResult(diff: diff, outcomes: outcomes, dumps: 0)
    }

    private func perform(_ diff: IPVSDiff) -> [IPVSOperationOutcome] {
        guard !diff.isEmpty else { return [] }
        let results = control.perform(diff.operations)
        return diff.steps.enumerated().map { i, step in
            // The protocol promises one result per operation; a short answer
            // must not read as success.
            let result = i < results.count ? results[i]
                : .failure(IPVSError(operation: step.operation.description, errno: 0,
                                     reason: "no result from the IPVS backend"))
            return IPVSOperationOutcome(step: step, result: result)
        }
    }
}
