import ArgumentParser
import BallastConfig
import BallastCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `ballastctl ipvs apply FILE [--owned CIDR ...] [--dry-run] [--drain-timeout SECONDS] [--wait]`
struct IPVSApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Make the IPVS table match a table file, changing only what it owns.",
        discussion: """
            Services, destinations and their settings are added, edited in place (counters and \
            connections survive) or deleted so that the owned part of the kernel's table equals FILE. \
            Only services inside the owned addresses and firewall marks are ever touched: by default \
            exactly the addresses and marks FILE names (or its 'owns' section); --owned and \
            --owned-fwmark replace that.

            A removed TCP or SCTP destination that still has connections is set to weight 0 and kept \
            ("draining"); a later apply deletes it once it is idle. With --wait, apply polls every \
            second until every draining destination is idle or --drain-timeout has passed, then \
            deletes it. UDP destinations and removed services are deleted at once.

            Exit status: 0 when everything was applied, 1 when an operation failed, a service was not \
            owned or IPVS is unavailable, 2 when FILE is invalid (then nothing is applied).
            """)

    @Argument(help: "The table file (YAML or JSON; format in docs/ipvs-table.md).")
    var file: String

    @Option(name: .customLong("owned"), help: ArgumentHelp(
        "An address range this apply owns (repeatable); replaces the default ownership.", valueName: "CIDR"),
        transform: IPVSApplyCommand.parseCIDR)
    var ownedPrefixes: [CIDR] = []

    @Option(name: .customLong("owned-fwmark"), help: ArgumentHelp(
        "A firewall mark this apply owns (repeatable); replaces the default ownership.", valueName: "MARK"))
    var ownedMarks: [UInt32] = []

    @Flag(help: "Print what would be done without changing anything.")
    var dryRun = false

    @Option(help: ArgumentHelp(
        "With --wait: how long a removed destination may drain before it is deleted anyway; 0 deletes at once.",
        valueName: "SECONDS"))
    var drainTimeout: UInt32 = 300

    @Flag(help: "Poll until every draining destination is idle (or --drain-timeout passed) and deleted.")
    var wait = false

    @Option(help: "Scheduler of services that name none.")
    var scheduler: IPVSScheduler = .rr

    @OptionGroup var output: OutputOptions

    static func parseCIDR(_ text: String) throws -> CIDR {
        do {
            return try CIDR(parsing: text)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func validate() throws {
        if dryRun && wait { throw ValidationError("--dry-run and --wait cannot be combined") }
        if ownedMarks.contains(0) { throw ValidationError("--owned-fwmark must be from 1 to 4294967295") }
    }

    func run() throws {
        let table: IPVSTable
        do {
            table = try IPVSTableFile.load(path: file, defaults: IPVSTableDefaults(scheduler: scheduler))
        } catch {
            Console.error(error.description)
            Console.error("nothing was applied (\(IPVSTableFile.formatHint))")
            throw ExitCode(2)
        }
        let ownership = ownedPrefixes.isEmpty && ownedMarks.isEmpty
            ? table.ownership
            : IPVSOwnership(prefixes: ownedPrefixes, firewallMarks: Set(ownedMarks))
        // Without --wait, a drain timeout other than 0 cannot elapse within
        // this run; drains then simply stay until a later apply finds them idle.
        let timeout: Duration? = wait || drainTimeout == 0 ? .seconds(drainTimeout) : nil
        let reconciler = IPVSReconciler(control: try IPVSAccess.open(), ownership: ownership,
                                        settings: IPVSReconcileSettings(drainTimeout: timeout))

        let totals = dryRun ? try plan(table, reconciler) : try apply(table, reconciler)
        if output.json {
            print(IPVSApplyReport.json(totals, dryRun: dryRun), terminator: "")
        } else {
            print(IPVSApplyReport.summary(totals, dryRun: dryRun))
        }
        if !totals.succeeded { throw ExitCode.failure }
    }

    private func plan(_ table: IPVSTable, _ reconciler: IPVSReconciler) throws -> IPVSApplyTotals {
        let diff: IPVSDiff
        do {
            diff = try reconciler.plan(desired: table.services, now: .now)
        } catch {
            throw CommandFailure(IPVSAccess.explain(error))
        }
        var totals = IPVSApplyTotals()
        totals.add(plan: diff)
        if !output.json { IPVSApplyReport.lines(forPlan: diff).forEach { print($0) } }
        return totals
    }

    private func apply(_ table: IPVSTable, _ reconciler: IPVSReconciler) throws -> IPVSApplyTotals {
        var totals = IPVSApplyTotals()
        var book = IPVSDrainBook()
        let clock = ContinuousClock()
        while true {
            let result: IPVSReconcileResult
            do {
                result = try reconciler.reconcile(desired: table.services, drainBook: &book, now: clock.now)
            } catch {
                throw CommandFailure(IPVSAccess.explain(error))
            }
            totals.add(result)
            if !output.json {
                // Every round's writes; the draining list only once, not every second.
                let lines = IPVSApplyReport.lines(for: result)
                let shown = totals.rounds == 1 || !wait ? lines : Array(lines.prefix(result.outcomes.count))
                shown.forEach { print($0) }
                if wait, totals.rounds == 1, !result.draining.isEmpty {
                    print("waiting for \(result.draining.count) draining destinations "
                          + "(at most \(drainTimeout)s)")
                }
            }
            guard wait, !result.draining.isEmpty else { return totals }
            sleep(1)
        }
    }
}

extension IPVSScheduler: ExpressibleByArgument {}
