// What `ballastctl ipvs apply` prints: one line per operation (performed, or
// planned with --dry-run), failures marked, draining destinations, conflicts,
// and a summary line with the write count; or all of it as JSON.

import BallastCore

/// Everything one `apply` did, over all its rounds (`--wait` runs a round
/// per poll until the drains finish).
public struct IPVSApplyTotals: Sendable {
    public private(set) var outcomes: [IPVSOperationOutcome] = []
    public private(set) var planned: [IPVSPlannedOperation] = []
    public private(set) var rounds = 0
    public private(set) var dumps = 0
    /// As of the last round.
    public private(set) var draining: [IPVSDrainingDestination] = []
    public private(set) var conflicts: [IPVSConflict] = []

    public init() {}

    public mutating func add(_ result: IPVSReconcileResult) {
        outcomes += result.outcomes
        rounds += 1
        dumps += result.dumps
        draining = result.draining
        conflicts = result.conflicts
    }

    /// A dry run: the plan of one round, nothing performed.
    public mutating func add(plan diff: IPVSDiff) {
        planned += diff.steps
        rounds += 1
        dumps += 1
        draining = diff.draining
        conflicts = diff.conflicts
    }

    public var writes: Int { outcomes.count }
    public var failed: Int { outcomes.count { !$0.succeeded } }
    /// Nothing failed and nothing desired was refused: exit status 0.
    public var succeeded: Bool { failed == 0 && conflicts.isEmpty }
}

public enum IPVSApplyReport {
    /// Lines for one performed round: operations, then draining destinations,
    /// then conflicts.
    public static func lines(for result: IPVSReconcileResult) -> [String] {
        result.outcomes.map { o in
            o.error.map { "FAILED \(text(o.step)): \($0.reason)" } ?? text(o.step)
        } + result.draining.map(\.description) + result.conflicts.map { "conflict: \($0)" }
    }

    /// Lines for a dry run: what would be done.
    public static func lines(forPlan diff: IPVSDiff) -> [String] {
        diff.steps.map { "would \(text($0))" } + diff.draining.map(\.description)
            + diff.conflicts.map { "conflict: \($0)" }
    }

    /// "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80" or, with a
    /// reason worth telling, "edit service TCP 192.0.2.10:80: scheduler rr → wlc".
    public static func text(_ step: IPVSPlannedOperation) -> String {
        switch step.reason {
        case .missing: step.operation.description
        case .startDrain(let n): "\(step.operation): weight → 0, draining \(n == 1 ? "1 connection" : "\(n) connections")"
        default: "\(step.operation): \(step.reason)"
        }
    }

    /// The last line: "applied 5 writes (1 failed), 1 draining, 0 conflicts, 1 dump".
    public static func summary(_ totals: IPVSApplyTotals, dryRun: Bool) -> String {
        func plural(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        let rest = "\(totals.draining.count) draining, \(plural(totals.conflicts.count, "conflict")), "
            + plural(totals.dumps, "dump")
        if dryRun {
            return "dry run: \(plural(totals.planned.count, "write")) planned, \(rest); nothing was changed"
        }
        return "applied \(plural(totals.writes, "write")) (\(totals.failed) failed), \(rest)"
    }

    /// The `--json` form of everything above (schema in docs/ipvs-table.md).
    public static func json(_ totals: IPVSApplyTotals, dryRun: Bool) -> String {
        let operations: [JSONValue] = dryRun
            ? totals.planned.map { operation($0, result: nil) }
            : totals.outcomes.map { operation($0.step, result: $0.result) }
        let value = JSONValue.object([
            ("dryRun", .bool(dryRun)),
            ("writes", .number(UInt64(dryRun ? 0 : totals.writes))),
            ("failed", .number(UInt64(totals.failed))),
            ("dumps", .number(UInt64(totals.dumps))),
            ("rounds", .number(UInt64(totals.rounds))),
            ("operations", .array(operations)),
            ("draining", .array(totals.draining.map(draining))),
            ("conflicts", .array(totals.conflicts.map { .string($0.description) })),
        ])
        return value.rendered() + "\n"
    }

    static func operation(_ step: IPVSPlannedOperation, result: Result<Void, IPVSError>?) -> JSONValue {
        let op = step.operation
        var fields: [(String, JSONValue)] = [
            ("kind", .string(kind(op))),
            ("service", .string(op.serviceKey.description)),
        ]
        switch op {
        case .addDestination(_, let d), .editDestination(_, let d):
            fields.append(("destination", .string(d.endpoint.description)))
        case .deleteDestination(_, let e):
            fields.append(("destination", .string(e.description)))
        case .addService, .editService, .deleteService:
            break
        }
        fields.append(("text", .string(text(step))))
        switch result {
        case .none:
            break
        case .success:
            fields.append(("ok", .bool(true)))
        case .failure(let e):
            fields.append(("ok", .bool(false)))
            fields.append(("errno", .integer(Int64(e.errno))))
            fields.append(("error", .string(e.reason)))
        }
        return .object(fields)
    }

    static func kind(_ op: IPVSOperation) -> String {
        switch op {
        case .addService: "addService"
        case .editService: "editService"
        case .deleteService: "deleteService"
        case .addDestination: "addDestination"
        case .editDestination: "editDestination"
        case .deleteDestination: "deleteDestination"
        }
    }

    static func draining(_ d: IPVSDrainingDestination) -> JSONValue {
        .object([
            ("service", .string(d.id.service.description)),
            ("destination", .string(d.id.endpoint.description)),
            ("active", .number(UInt64(d.activeConnections))),
            ("inactive", .number(UInt64(d.inactiveConnections))),
            ("persistent", .number(UInt64(d.persistentConnections))),
            ("drainingSeconds", .integer(d.age.components.seconds)),
        ])
    }
}
