// Ballast's SNAT table in memory, behaving like NFTablesSNAT where a
// reconciler can tell: the table is absent until the first write, and an
// update fails, changing nothing, when the table is missing or an element to
// delete is not there (libnftables aborts the transaction), and
// `holdsAsWritten` answers from what was last written (NFTablesSNAT's
// digest), blind to `edit` like the digest is to elements changed by hand.
// Tests inject failures and count writes.

import BallastCore
import Synchronization

public final class FakeSNATControl: SNATControl {
    public enum Call: Sendable, Hashable {
        case current
        case holdsAsWritten(SNATTable)
        case replace(SNATTable)
        case update(SNATTableChange)
        case removeTable
    }

    private struct State {
        var table: SNATTable?
        /// What the table's digest vouches for: the last write, not `edit`.
        var written: SNATTable?
        var calls: [Call] = []
        var failures: [CallKind: DataPlaneError] = [:]
    }

    /// Which call an injected failure applies to.
    public enum CallKind: Sendable, Hashable {
        case current, holdsAsWritten, replace, update, removeTable
    }

    private let state: Mutex<State>

    /// `table`: what is already there (nil: no table, or one Ballast did not write).
    public init(table: SNATTable? = nil) {
        state = Mutex(State(table: table, written: table))
    }

    /// A table already holding `rules`.
    public convenience init(rules: [SNATRule]) {
        self.init(table: SNATTable(rules: rules))
    }

    public var table: SNATTable? { state.withLock { $0.table } }
    public var calls: [Call] { state.withLock { $0.calls } }

    /// The number of times the table was written (replaced, updated or removed).
    public var writeCount: Int {
        calls.filter {
            switch $0 {
            case .current, .holdsAsWritten: false
            default: true
            }
        }.count
    }

    /// Changes the table behind the reconciler's back (drift).
    public func edit(_ body: (inout SNATTable?) -> Void) {
        state.withLock { body(&$0.table) }
    }

    public func fail(_ kind: CallKind, errno: Int32, reason: String = "injected failure") {
        state.withLock { s in
            let operation = switch kind {
            case .current: "read nftables table inet ballast"
            case .holdsAsWritten: "check nftables table inet ballast against its digest"
            case .replace: "replace nftables table inet ballast"
            case .update: "update nftables table inet ballast"
            case .removeTable: "delete nftables table inet ballast"
            }
            s.failures[kind] = DataPlaneError(operation: operation, errno: errno, reason: reason)
        }
    }

    public func clearFailures() {
        state.withLock { $0.failures = [:] }
    }

    public func current() throws(DataPlaneError) -> SNATTable? {
        try record(.current, kind: .current) { s throws(DataPlaneError) in s.table }
    }

    public func holdsAsWritten(_ table: SNATTable) throws(DataPlaneError) -> Bool {
        try record(.holdsAsWritten(table), kind: .holdsAsWritten) { s throws(DataPlaneError) in
            s.table != nil && s.written == table
        }
    }

    public func replace(with table: SNATTable) throws(DataPlaneError) {
        try record(.replace(table), kind: .replace) { s throws(DataPlaneError) in
            s.table = table
            s.written = table
        }
    }

    public func update(_ change: SNATTableChange) throws(DataPlaneError) {
        try record(.update(change), kind: .update) { s throws(DataPlaneError) in
            guard let table = s.table, !table.isEmpty, change.deleteMarks.isSubset(of: table.marks),
                  change.deleteMasquerades.isSubset(of: table.masquerades) else {
                throw DataPlaneError(operation: "update nftables table inet ballast (\(change))", errno: 2,
                                     reason: "No such file or directory")
            }
            s.table = table.applying(change)
            s.written = s.written?.applying(change)
        }
    }

    public func removeTable() throws(DataPlaneError) {
        try record(.removeTable, kind: .removeTable) { s throws(DataPlaneError) in
            s.table = nil
            s.written = nil
        }
    }

    private func record<T>(_ call: Call, kind: CallKind,
                           _ body: (inout State) throws(DataPlaneError) -> T) throws(DataPlaneError) -> T {
        let outcome: Result<T, DataPlaneError> = state.withLock { s in
            s.calls.append(call)
            if let failure = s.failures[kind] { return .failure(failure) }
            do throws(DataPlaneError) {
                return .success(try body(&s))
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }
}
