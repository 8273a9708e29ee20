// Ballast's SNAT table in memory, behaving like NFTablesSNAT where a
// reconciler can tell: the table holds the canonical form of what was written
// and is absent until the first write. Tests inject failures and count writes.

import BallastCore
import Synchronization

public final class FakeSNATControl: SNATControl {
    public enum Call: Sendable, Hashable {
        case current
        case replace([SNATRule])
        case removeTable
    }

    private struct State {
        var table: [SNATRule]?
        var calls: [Call] = []
        var failures: [CallKind: DataPlaneError] = [:]
    }

    /// Which call an injected failure applies to.
    public enum CallKind: Sendable, Hashable {
        case current, replace, removeTable
    }

    private let state: Mutex<State>

    /// `table`: the rules already there (nil: no table), stored as given, so a
    /// test can model a table that is not in canonical form.
    public init(table: [SNATRule]? = nil) {
        state = Mutex(State(table: table))
    }

    public var table: [SNATRule]? { state.withLock { $0.table } }
    public var calls: [Call] { state.withLock { $0.calls } }

    /// The number of times the table was written (replaced or removed).
    public var writeCount: Int {
        calls.filter { if case .current = $0 { false } else { true } }.count
    }

    public func fail(_ kind: CallKind, errno: Int32, reason: String = "injected failure") {
        state.withLock { s in
            let operation = switch kind {
            case .current: "read nftables table inet ballast"
            case .replace: "replace nftables table inet ballast"
            case .removeTable: "delete nftables table inet ballast"
            }
            s.failures[kind] = DataPlaneError(operation: operation, errno: errno, reason: reason)
        }
    }

    public func clearFailures() {
        state.withLock { $0.failures = [:] }
    }

    public func current() throws(DataPlaneError) -> [SNATRule]? {
        try record(.current, kind: .current) { $0.table }
    }

    public func replace(with rules: [SNATRule]) throws(DataPlaneError) {
        try record(.replace(rules), kind: .replace) { $0.table = SNATRule.canonical(rules) }
    }

    public func removeTable() throws(DataPlaneError) {
        try record(.removeTable, kind: .removeTable) { $0.table = nil }
    }

    private func record<T>(_ call: Call, kind: CallKind, _ body: (inout State) -> T) throws(DataPlaneError) -> T {
        let outcome: Result<T, DataPlaneError> = state.withLock { s in
            s.calls.append(call)
            if let failure = s.failures[kind] { return .failure(failure) }
            return .success(body(&s))
        }
        return try outcome.get()
    }
}
