// BallastCore's IPVSReconciler as the loop's IPVSReconciling. It keeps two
// things between rounds:
//
// - the drain book: a removed destination with open connections stays at
//   weight 0 until ipvs.drainTimeout, counted from the round that first saw
//   it go;
// - the table as last known (IPVSKnownTable): a full dump, updated with the
//   writes the kernel accepted since. A round triggered by a manifest change
//   diffs against it instead of dumping the whole table, which costs one
//   request per virtual service (10,001 at 10,000 Services, seconds under
//   load) for an edit that needs two writes.
//
// The table is read in full again at start, after `forget()` (the loop calls
// it for every resync and reload: drift repair), after a failed write (the
// kernel is not what Ballast thinks), and after a failed read. Live
// connection counts are read where they decide something: a diff with a
// destination leaving (deleted, starting or continuing a drain) is redone
// after one destination dump per such service (IPVS has no cheaper way to
// ask; GET_DEST is per service). Draining services are thereby read on every
// round, as before, and an idle destination is never deleted on counts that
// are stale. The report's table is this known table: no second dump for the
// status; it has connection counts as of the last read of each service, and
// no traffic counters (the table does not keep them). After a clean round the
// table takes the plan's destination arrays where they are the same
// (`IPVSKnownTable.share`): one copy of the 100,000 destinations, not two.
//
// A scoped round (an incremental sync: the plan changed only for some
// Services) diffs only the virtual services in scope, plus every service
// with a draining destination, against the known table: the rest of the
// plan is what the last round applied. Without a known table it is a full
// round.
//
// Reading ahead: the start's full dump does not depend on the manifests, so
// the daemon reads it (`readAhead()`, on the loop's kernel thread) while the
// source decodes them, and the first round diffs against that dump as it
// would against its own: connection counts included, every service in
// scope. It is used only while current: a round begun or a `forget()` since
// the read began discards it (the kernel may have changed since, or drift
// repair was asked for), and a failed read leaves the round to dump the
// table itself.
import BallastCore
import Synchronization

public final class DrainingIPVSReconciler: IPVSReconciling {
    private struct Memory {
        var drainBook = IPVSDrainBook()
        var table: IPVSKnownTable?
        /// Counts `forget()` calls: a round does not put back a table forgotten meanwhile.
        var forgotten = 0
        /// A full dump read ahead of the first round (see CompactIPVSDump).
        var readAhead: CompactIPVSDump?
        /// Counts rounds begun: a dump read ahead while one began is not current.
        var rounds = 0
    }

    private let control: any IPVSControl
    private let remembersTable: Bool
    private let drainTimeout: Mutex<Duration>
    private let memory = Mutex(Memory())

    /// - Parameter remembersTable: false dumps the table in every round (the
    ///   dry run, whose writes never reach the kernel it plans against).
    public init(control: any IPVSControl, drainTimeout: Duration, remembersTable: Bool = true) {
        self.control = control
        self.drainTimeout = Mutex(drainTimeout)
        self.remembersTable = remembersTable
    }

    /// A reload may change ipvs.drainTimeout.
    public func setDrainTimeout(_ timeout: Duration) {
        drainTimeout.withLock { $0 = timeout }
    }

    /// The next round dumps the whole table again.
    public func forget() {
        memory.withLock { $0.table = nil; $0.readAhead = nil; $0.forgotten += 1 }
    }

    /// Dumps the whole table for the next round, unless a table is known
    /// already. Returns how many virtual services the dump held, or why it
    /// failed (the next round then dumps the table itself); nil when there
    /// was nothing to read.
    public func readAhead() -> Result<Int, IPVSError>? {
        let begun = memory.withLock { memory in
            memory.table == nil && memory.readAhead == nil ? (rounds: memory.rounds, forgotten: memory.forgotten) : nil
        }
        guard let begun else { return nil }
        let dump: CompactIPVSDump
        do throws(IPVSError) {
            dump = try control.compactDump()
        } catch {
            return .failure(error)
        }
        memory.withLock { memory in
            if memory.rounds == begun.rounds && memory.forgotten == begun.forgotten { memory.readAhead = dump }
        }
        return .success(dump.count)
    }

    public func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport {
        reconcile(desired: desired, scope: nil, ownership: ownership)
    }

    public func reconcile(desired: [IPVSVirtualService], scope: Set<VirtualServiceKey>,
                          ownership: IPVSOwnership) -> IPVSReconcileReport {
        reconcile(desired: desired, scope: Optional(scope), ownership: ownership)
    }

    private func reconcile(desired: [IPVSVirtualService], scope: Set<VirtualServiceKey>?,
                           ownership: IPVSOwnership) -> IPVSReconcileReport {
        let settings = IPVSReconcileSettings(drainTimeout: drainTimeout.withLock { $0 })
        let reconciler = IPVSReconciler(control: control, ownership: ownership, settings: settings)
        let now = ContinuousClock().now
        // The table is taken out of memory while this round works on it (and
        // put back at the end): a copy left behind would make every change to
        // it copy all 10,000 services.
        var taken = memory.withLock { memory in
            defer { memory.table = nil; memory.readAhead = nil; memory.rounds += 1 }
            return (book: memory.drainBook, table: memory.table, readAhead: memory.readAhead,
                    generation: memory.forgotten)
        }
        var book = taken.book
        // Moved, not copied, out of `taken`: the round's table must be the
        // only reference to its storage, or its first change (a service read
        // afresh) copies all 10,000 services.
        var remembered = remembersTable ? taken.table.take() : nil
        // In scope too: every service with a draining destination, whose drain
        // goes on (or ends) on every round, and whose book entries the diff
        // hands on only for the services it looks at. Against a fresh dump,
        // everything is in scope.
        let keys = remembered == nil ? nil : scope.map { $0.union(book.started.keys.map(\.service)) }
        let wanted = keys.map { keys in desired.filter { keys.contains($0.key) } } ?? desired
        func diff(_ table: IPVSKnownTable) -> IPVSDiff {
            let observed = keys.map { $0.sorted().compactMap { table[$0] } } ?? table.services
            return IPVSDiff(desired: wanted, observed: observed, ownership: ownership, drainBook: book,
                            settings: settings, now: now)
        }

        var table: IPVSKnownTable
        var plan: IPVSDiff
        do throws(IPVSError) {
            // A table from memory, or one read ahead while the manifests were
            // decoded (seconds ago at 10,000 files), has connection counts
            // from back then: the services a destination leaves are read
            // afresh before the diff decides between draining and deleting,
            // or a destination that gained connections since would be cut.
            if var known = remembered.take()
                ?? taken.readAhead.take().map({ IPVSKnownTable($0, sharing: wanted) }) {
                plan = diff(known)
                let leaving = plan.servicesWithLeavingDestinations
                if !leaving.isEmpty {
                    for key in leaving.sorted() {
                        known.replaceDestinations(of: key, with: try control.destinations(of: key))
                    }
                    plan = diff(known)
                }
                table = known
            } else {
                table = IPVSKnownTable(try control.compactDump(), sharing: wanted)
                plan = diff(table)
            }
        } catch {
            forget()
            return IPVSReconcileReport(errors: [IPVSFailure(service: nil, error: error)])
        }

        let result = reconciler.perform(plan, drainBook: &book)
        memory.withLock { $0.drainBook = book }
        var report = IPVSReconcileReport(conflicts: result.conflicts.map(\.description), draining: result.draining.count)
        for outcome in result.outcomes {
            report.performed[IPVSOperationKind(outcome.step.operation), default: 0] += 1
            if let error = outcome.error {
                report.errors.append(IPVSFailure(service: outcome.step.operation.serviceKey, error: error))
            }
        }

        if remembersTable && result.failures.isEmpty {
            table.apply(result.outcomes.map(\.step.operation))
            table.share(wanted)
        } else if result.writes > 0 {
            // A refused write means the kernel is not what the table says
            // (someone else changed it): read it all again, for the status
            // and for the next round. The dry run reports the kernel as it is.
            do {
                table = IPVSKnownTable(try control.compactDump(), sharing: wanted)
            } catch {
                forget()
                report.errors.append(IPVSFailure(service: nil, error: error))
                return report
            }
        }
        if remembersTable {
            memory.withLock { if $0.forgotten == taken.generation { $0.table = table } }
        }
        report.table = table
        return report
    }
}
