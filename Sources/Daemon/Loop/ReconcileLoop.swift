// The reconcile loop: event-driven, coalescing. Any number of triggers
// (source changes, a reload, the resync timer) arriving while a sync runs
// lead to exactly one more sync with the newest inputs; a sync never runs
// with inputs older than the last trigger.
//
// Drift repair: the periodic resync re-reads the kernel and re-applies the
// plan, so an `ipvsadm -C` or a deleted VIP is repaired within
// ipvs.resyncInterval even when nothing else changes. Between resyncs a
// source change diffs against the IPVS and SNAT tables as last read plus
// Ballast's own writes (both cost a full listing to read: 10,001 netlink
// requests for IPVS at 10,000 Services), so an edit costs its writes.
//
// Incremental syncs: a sync triggered by the source alone, whose changes the
// source names (SnapshotChanges: these Services' objects or slices), redoes
// only those Services. Allocation is kept when only slices changed (it reads
// Services and Namespaces, never endpoints), planning patches the last plan
// (Planner.replan), and the IPVS and SNAT diffs cover only the virtual
// services and addresses of those Services. Start, resync, reload, a change
// of Nodes or Namespaces, and the sync after one with errors run in full.
import BallastCore
import FoundationEssentials
import Logging

public enum SyncReason: String, Sendable, Hashable, Comparable {
    case start, source, config, resync

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

public actor ReconcileLoop {
    private let stages: SyncStages
    private let nodeName: String
    private let persist: (@Sendable (AssignmentTable) throws -> Void)?
    private let board: StatusBoard
    private let metrics: BallastMetrics?
    private let logger: Logger
    private let kernel = KernelQueue()

    private var configuration: Configuration
    private var snapshot: ClusterSnapshot?
    private var assignments: AssignmentTable
    private var persisted: AssignmentTable?
    private var pending: Set<SyncReason> = []
    /// What the source changed since the last sync began.
    private var pendingChanges = SnapshotChanges()
    /// The last sync, which an incremental one patches.
    private var last: LastSync?
    private var syncing = false
    private var syncStarted: ContinuousClock.Instant?
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private var syncsCompleted = 0
    /// Called after every sync, with whether it was the first (the daemon sends READY=1 then).
    private let onSync: (@Sendable (SyncRecord, _ first: Bool) -> Void)?

    /// - Parameters:
    ///   - assignments: the previous run's assignments (from the state file), kept where still valid.
    ///   - persist: saves assignments when they change; nil in dry-run mode.
    public init(stages: SyncStages, configuration: Configuration, nodeName: String, assignments: AssignmentTable,
                persist: (@Sendable (AssignmentTable) throws -> Void)?, board: StatusBoard, metrics: BallastMetrics?,
                logger: Logger, onSync: (@Sendable (SyncRecord, _ first: Bool) -> Void)? = nil) {
        self.stages = stages
        self.configuration = configuration
        self.nodeName = nodeName
        self.assignments = assignments
        self.persisted = assignments
        self.persist = persist
        self.board = board
        self.metrics = metrics
        self.logger = logger
        self.onSync = onSync
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    // MARK: - Triggers

    /// A new snapshot from the source. Until the first one arrives no sync
    /// runs: syncing an empty snapshot would withdraw every Service that the
    /// previous run left in the kernel, and drop their connections.
    ///
    /// - Parameter changes: what differs from the snapshot before; the
    ///   default, everything, makes the next sync plan every Service.
    public func sourceChanged(_ snapshot: ClusterSnapshot, changes: SnapshotChanges = .everything) {
        let first = self.snapshot == nil
        self.snapshot = snapshot
        pendingChanges.formUnion(changes)
        trigger(first ? .start : .source)
    }

    public func configurationChanged(_ configuration: Configuration) {
        self.configuration = configuration
        trigger(.config)
    }

    public func trigger(_ reason: SyncReason) {
        pending.insert(reason)
        wake.yield()
    }

    /// Starts reading the kernel's IPVS table on the kernel thread, for the
    /// first sync to diff against: at start the source takes a while to
    /// decode the manifests, and the dump (one request per virtual service)
    /// needs none of them. The first sync's kernel work queues behind it.
    public nonisolated func readKernelAhead() {
        let ipvs = stages.ipvs
        let logger = logger
        kernel.start {
            let clock = ContinuousClock()
            let start = clock.now
            guard let result = ipvs.readAhead() else { return }
            let milliseconds = "\(Int(StatusBoard.seconds(start.duration(to: clock.now)) * 1000))"
            switch result {
            case .success(let services):
                logger.info("read the IPVS table ahead of the first sync",
                            metadata: ["ipvs.services": "\(services)", "ipvs.read_ms": "\(milliseconds)"])
            case .failure(let error):
                logger.warning("cannot read the IPVS table ahead of the first sync; it reads the table itself",
                               metadata: ["error": "\(error)", "ipvs.read_ms": "\(milliseconds)"])
            }
        }
    }

    public var currentConfiguration: Configuration { configuration }
    public var currentAssignments: AssignmentTable { assignments }
    public var completedSyncs: Int { syncsCompleted }

    /// How long the sync in progress has been running (nil when idle): the
    /// watchdog stops petting systemd when a kernel call hangs for too long.
    public var currentSyncDuration: Duration? { syncStarted.map { $0.duration(to: ContinuousClock().now) } }

    // MARK: - Running

    /// Runs until the task is cancelled: syncs on triggers and every
    /// ipvs.resyncInterval.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.resyncTimer() }
            for await _ in wakes {
                if Task.isCancelled { break }
                await drainPending()
            }
            group.cancelAll()
        }
    }

    /// Syncs until no trigger is pending. Public for tests, which drive the loop step by step.
    public func drainPending() async {
        while !pending.isEmpty, snapshot != nil, !syncing, !Task.isCancelled {
            let reasons = pending
            pending = []
            _ = await sync(reasons: reasons)
        }
    }

    private func resyncTimer() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.ipvs.resyncInterval)
            } catch {
                return
            }
            trigger(.resync)
        }
    }

    /// One sync: snapshot → allocate → plan → kernel → announce → status.
    @discardableResult
    public func sync(reasons: Set<SyncReason>) async -> SyncRecord? {
        guard let snapshot else { return nil }
        let clock = ContinuousClock()
        let start = clock.now
        syncing = true
        syncStarted = start
        defer { syncing = false; syncStarted = nil }
        let configuration = self.configuration
        let changes = pendingChanges
        pendingChanges = SnapshotChanges()

        let allocation: AllocationResult
        let plan: DesiredState
        let scope: DataPlaneScope?
        if let replan = stages.replan, let last, last.clean, reasons == [.source], !changes.everything {
            var changed = changes.services
            var settled = last.allocationIsSettled
            var sharing = last.sharing
            if changes.serviceObjects.isEmpty && settled {
                // Only slices changed: allocation reads Services and Namespaces,
                // and from its own result's addresses it gives that result again.
                allocation = last.allocation
            } else {
                let previous = assignments.mapValues(\.addresses)
                allocation = stages.allocate(snapshot, configuration, previous)
                assignments = allocation.assignments
                savePersistedAssignments()
                changed.formUnion(allocation.servicesDiffering(from: last.allocation))
                settled = allocation.addresses == previous
                sharing = AddressSharing(allocation)
            }
            plan = replan(last.plan, changed, snapshot, allocation, sharing, configuration, nodeName)
            scope = DataPlaneScope(services: changed, before: last.plan, after: plan)
            self.last = LastSync(allocation: allocation, allocationIsSettled: settled, sharing: sharing, plan: plan)
        } else {
            let previous = assignments.mapValues(\.addresses)
            allocation = stages.allocate(snapshot, configuration, previous)
            assignments = allocation.assignments
            savePersistedAssignments()
            plan = stages.plan(snapshot, allocation, configuration, nodeName)
            scope = nil
            last = stages.replan == nil ? nil
                : LastSync(allocation: allocation, allocationIsSettled: allocation.addresses == previous,
                           sharing: AddressSharing(allocation), plan: plan)
        }

        // Drift repair reads everything from the kernel again; so does a reload.
        if reasons.contains(.resync) || reasons.contains(.config) { stages.forgetKernelView() }
        let applier = DataPlaneApplier(ipvs: stages.ipvs, vips: stages.vips, snat: stages.snat)
        let pools = configuration.pools
        let ensureSysctls = stages.ensureSysctls
        let outcome = await kernel.run { [scope] in
            let sysctlErrors = ensureSysctls()
            var outcome = applier.apply(plan, pools: pools, scope: scope)
            outcome.errors = sysctlErrors + outcome.errors
            return outcome
        }
        // A failed IPVS or SNAT call leaves the tables remembered for the
        // scoped diff unlike the kernel: the next sync does everything. VIPs
        // are compared whole on every sync, and a sysctl that keeps failing
        // (a restricted container) must not make every edit a full sync.
        if !outcome.ipvs.errors.isEmpty || outcome.snatFailed { last?.clean = false }
        await stages.announcer.announce(plan.localAnnouncements + outcome.draining)

        let record = SyncRecord(at: Date(), duration: start.duration(to: clock.now),
                                reasons: reasons.sorted().map(\.rawValue), configuration: configuration,
                                snapshot: snapshot, allocation: allocation, plan: plan, dataPlane: outcome)
        board.recordSync(record)
        recordMetrics(record)
        log(record)
        syncsCompleted += 1
        onSync?(record, syncsCompleted == 1)
        return record
    }

    /// What an incremental sync starts from.
    private struct LastSync {
        var allocation: AllocationResult
        /// Whether `allocation` came from its own addresses as the previous
        /// ones, so that allocating again (same Services, same Namespaces)
        /// would give it back.
        var allocationIsSettled: Bool
        var sharing: AddressSharing
        var plan: DesiredState
        /// The data plane took the plan without an error.
        var clean = true
    }

    /// Stops announcing (graceful shutdown). The data plane stays: see docs/operations.md.
    public func stopAnnouncing() async {
        await stages.announcer.stopAll()
    }

    private func savePersistedAssignments() {
        guard assignments != persisted else {
            // What the file holds already (every restart that changed nothing):
            // keep the allocation's table only, not also the one read from the
            // file beside it (a second table of every Service).
            persisted = assignments
            return
        }
        guard let persist else { return }
        do {
            try persist(assignments)
            persisted = assignments
            board.note("state", nil)
        } catch {
            // Keep serving: the addresses are right in memory and in the kernel; only
            // a restart would lose them. Retried on every sync until it works.
            logger.error("cannot save address assignments", metadata: ["error": "\(error)"])
            board.note("state", "address assignments are not saved (\(error)): a restart could move Services to new addresses")
        }
    }

    private func recordMetrics(_ record: SyncRecord) {
        guard let metrics else { return }
        metrics.update(pools: StatusBoard.poolRows(record))
        metrics.record(servicesAllocated: record.allocation.assignments.count)
        metrics.record(announcedAddresses: record.plan.localAnnouncements.count)
        metrics.recordIPVSSync(duration: record.dataPlane.ipvsDuration, operations: record.dataPlane.ipvs.performed,
                               errors: record.dataPlane.ipvs.errors.count)
        if record.dataPlane.errors.isEmpty { metrics.record(successfulSyncAt: record.at) }
    }

    private func log(_ record: SyncRecord) {
        let d = record.dataPlane
        let operations = d.ipvs.performed.values.reduce(0, +)
        var metadata: Logger.Metadata = [
            "sync.reason": "\(record.reasons.joined(separator: ","))",
            "sync.duration_ms": "\(Int(StatusBoard.seconds(record.duration) * 1000))",
            "sync.services": "\(StatusBoard.handledCount(record))",
            "sync.ipvs_operations": "\(operations)",
            "sync.vips_added": "\(d.vipsAdded.count)",
            "sync.vips_removed": "\(d.vipsRemoved.count)",
            "sync.errors": "\(d.errors.count)",
        ]
        if d.snatReplaced { metadata["sync.snat_replaced"] = "true" }
        for error in d.errors {
            logger.error("sync operation failed", metadata: ["error": "\(error)"])
        }
        let changed = operations > 0 || !d.vipsAdded.isEmpty || !d.vipsRemoved.isEmpty || d.snatReplaced
        // A resync that found nothing to repair is routine; anything that changed the kernel is news.
        logger.log(level: changed || !d.errors.isEmpty ? .info : .debug, "sync finished", metadata: metadata)
    }
}
