// The SNAT table as last read or written, so that a sync triggered by a
// manifest change does not list the whole table again. Listing is the
// expensive direction: with 10,000 Cluster-policy Services libnftables needs
// about 1.3 s of CPU and a transient ~130 MiB to print the table's 100,000
// set elements, while the desired contents are known in memory. The table is
// Ballast's own, so between resyncs only Ballast changes it; the periodic
// resync (and a reload) forgets what was remembered and reads the kernel
// again, which is how a table edited by hand is repaired.
//
// At start nothing is remembered, and the first sync asks whether the table
// holds what it wants (`current(expecting:)`): the wrapped control may show
// that without listing the elements (`holdsAsWritten`, NFTablesSNAT's
// digest), which takes the listing out of a warm start or a restart after
// kill -9. That proof is blind to elements changed by hand while no daemon
// ran, so it is used once, at start, and never after `forget()` (resync,
// reload) or a failed write: those always list everything.
//
// libnftables runs in this process, and a full listing or a whole-table
// write of 100,000 elements leaves 100–140 MiB of freed heap that glibc keeps
// (measured: 189 MiB resident after `current()`, 62 MiB after malloc_trim);
// the daemon gives freed memory back after every sync (`FreedMemory` in
// BallastDaemon's onSync), which is what returns it.
import BallastCore
import Synchronization

public final class RememberedSNATControl: SNATControl {
    private enum View {
        /// Nothing read yet since start: the digest may stand in for a listing.
        case start
        /// Read the kernel in full at the next `current()`.
        case unknown
        /// What `current()` would return now.
        case known(SNATTable?)
    }

    private let control: any SNATControl
    private let view = Mutex(View.start)

    public init(wrapping control: any SNATControl) { self.control = control }

    /// The next `current()` reads the kernel again, in full.
    public func forget() {
        view.withLock { $0 = .unknown }
    }

    public func current() throws(DataPlaneError) -> SNATTable? {
        if case .known(let rules) = view.withLock({ $0 }) { return rules }
        let rules = try control.current()
        view.withLock { $0 = .known(rules) }
        return rules
    }

    public func current(expecting table: SNATTable) throws(DataPlaneError) -> SNATTable? {
        let isStart = view.withLock { view in
            guard case .start = view else { return false }
            view = .unknown
            return true
        }
        if isStart, try control.holdsAsWritten(table) {
            view.withLock { $0 = .known(table) }
            return table
        }
        return try current()
    }

    public func replace(with table: SNATTable) throws(DataPlaneError) {
        // A failed write leaves the table in a state worth reading again.
        forget()
        try control.replace(with: table)
        view.withLock { $0 = .known(table) }
    }

    public func update(_ change: SNATTableChange) throws(DataPlaneError) {
        let before = view.withLock { view in
            defer { view = .unknown }
            return view
        }
        try control.update(change)
        if case .known(let table?) = before {
            view.withLock { $0 = .known(table.applying(change)) }
        }
    }

    public func removeTable() throws(DataPlaneError) {
        forget()
        try control.removeTable()
        view.withLock { $0 = .known(nil) }
    }
}
