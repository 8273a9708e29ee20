// ballastd's runtime: the pieces of the daemon as swift-service-lifecycle
// Services in one ServiceGroup, plus the status and metrics servers.
//
// Signals:
// - SIGTERM / SIGINT: graceful shutdown. Announcing stops, so that a peer
//   node's election takes the addresses over within its own GARP burst;
//   IPVS services, VIPs and SNAT rules stay in the kernel. Established
//   connections keep flowing through this node while the peer takes over, a
//   restart (upgrade, systemctl restart) finds the table as it left it and
//   changes nothing, and nothing is deleted and re-added (deleted
//   destinations linger in the kernel's trash list and slow every later
//   add). `ballastd cleanup` removes it all for good.
// - SIGHUP: reload the configuration. An invalid file is rejected with the
//   error logged and shown by `ballastctl status` (config "stale"); the
//   running configuration stays untouched.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastConfig
import BallastCore
import FoundationEssentials
import Logging
import Prometheus
import ServiceLifecycle
import UnixSignals

/// The kernel objects, real or fake. Dry-run wraps them.
public struct KernelControls: Sendable {
    public var ipvs: any IPVSControl
    public var vips: any VIPControl
    public var snat: any SNATControl
    public var announcer: any Announcing
    /// Sets the sysctls the data plane depends on (vs/conntrack, forwarding)
    /// where they differ; returns what failed. Run before every sync, so a
    /// value changed behind Ballast's back is repaired like any other drift.
    public var ensureSysctls: @Sendable () -> [String]

    public init(ipvs: any IPVSControl, vips: any VIPControl, snat: any SNATControl, announcer: any Announcing,
                ensureSysctls: @escaping @Sendable () -> [String]) {
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
        self.announcer = announcer
        self.ensureSysctls = ensureSysctls
    }
}

/// Everything the daemon needs from the other targets; ballastd's main fills it in.
public struct DaemonWiring: Sendable {
    /// Reads and validates the configuration file (BallastConfig's ConfigurationFile.load).
    public var loadConfiguration: @Sendable (_ path: String) throws -> LoadedConfiguration
    public var allocate: AllocateStage
    public var plan: PlanStage
    /// Plans a change again for the Services it concerns; nil plans every Service every time.
    public var replan: ReplanStage?
    public var makeSource: @Sendable (_ source: ServiceSource, _ logger: Logger) throws -> any ServiceSourcing
    public var makeKernel: @Sendable (_ configuration: Configuration, _ logger: Logger) throws -> KernelControls

    public init(loadConfiguration: @escaping @Sendable (_ path: String) throws -> LoadedConfiguration,
                allocate: @escaping AllocateStage, plan: @escaping PlanStage, replan: ReplanStage? = DefaultStages.replan,
                makeSource: @escaping @Sendable (_ source: ServiceSource, _ logger: Logger) throws -> any ServiceSourcing,
                makeKernel: @escaping @Sendable (_ configuration: Configuration, _ logger: Logger) throws -> KernelControls) {
        self.loadConfiguration = loadConfiguration
        self.allocate = allocate
        self.plan = plan
        self.replan = replan
        self.makeSource = makeSource
        self.makeKernel = makeKernel
    }
}

public struct DaemonOptions: Sendable {
    public var configPath: String
    public var dryRun: Bool
    /// The process environment (NOTIFY_SOCKET, WATCHDOG_USEC).
    public var environment: [String: String]
    /// Where swift-metrics reports to, for /metrics; nil = no metrics server.
    public var metricsRegistry: PrometheusCollectorRegistry?

    public init(configPath: String, dryRun: Bool, environment: [String: String], metricsRegistry: PrometheusCollectorRegistry?) {
        self.configPath = configPath
        self.dryRun = dryRun
        self.environment = environment
        self.metricsRegistry = metricsRegistry
    }
}

/// A startup failure: what could not be set up, and why.
public struct DaemonStartupError: Error, CustomStringConvertible {
    public var what: String
    public var cause: String
    public var description: String { "\(what): \(cause)" }
}

public enum BallastDaemon {
    /// Runs until SIGTERM/SIGINT. `configuration` is the already loaded file at `options.configPath`.
    public static func run(configuration: Configuration, options: DaemonOptions, wiring: DaemonWiring,
                           logger baseLogger: Logger) async throws {
        let node = configuration.nodeName ?? hostName()
        let notifier = SystemdNotifier(environment: options.environment)
        var nodeLogger = baseLogger
        nodeLogger[metadataKey: "node"] = "\(node)"
        let logger = nodeLogger

        let source: any ServiceSourcing
        do {
            source = try wiring.makeSource(configuration.source, logger)
        } catch {
            throw DaemonStartupError(what: "set up the Service source", cause: "\(error)")
        }
        let board = StatusBoard(node: node, dryRun: options.dryRun, startedAt: Date(), configPath: options.configPath,
                                source: source.description)
        let metrics = options.metricsRegistry.map { _ in BallastMetrics() }

        // State: sticky addresses. A corrupt file is set aside and reported; the daemon starts without it.
        let store = AssignmentStore(directory: configuration.stateDirectory)
        var previous: AssignmentTable = [:]
        do {
            switch try store.load() {
            case .empty:
                logger.info("no saved address assignments: first start on this node", metadata: ["state.file": "\(store.path)"])
            case .loaded(let table):
                previous = table
                logger.info("loaded address assignments", metadata: ["state.file": "\(store.path)", "state.services": "\(table.count)"])
            case .corrupt(let reason, let keptAs):
                let kept = keptAs.map { "kept as \($0)" } ?? "could not be renamed aside"
                logger.error("state file is unusable; starting without saved assignments, Services may get new addresses",
                             metadata: ["state.file": "\(store.path)", "state.kept_as": "\(keptAs ?? "-")", "error": "\(reason)"])
                board.note("state-recovered", "\(store.path) was unusable (\(reason)); it was \(kept) and addresses were assigned afresh")
            }
        } catch {
            throw DaemonStartupError(what: "read address assignments", cause: "\(error)")
        }

        let kernel: KernelControls
        do {
            kernel = try wiring.makeKernel(configuration, logger)
        } catch {
            let what = "open the kernel interfaces (netlink, nftables, packet sockets)"
            guard options.dryRun else { throw DaemonStartupError(what: what, cause: "\(error)") }
            // A dry run writes nothing, so it can still show its plan where the
            // kernel cannot be opened (a build machine without IPVS): against an
            // empty kernel, which is what a first start on a clean node finds.
            logger.warning("dry run: cannot \(what); planning against an empty kernel", metadata: ["error": "\(error)"])
            board.note("dry-run-kernel", "dry run against an empty kernel: cannot \(what): \(error)")
            kernel = KernelControls(ipvs: EmptyKernel(), vips: EmptyKernel(), snat: EmptyKernel(),
                                    announcer: DryRunAnnouncer(logger: logger), ensureSysctls: { [] })
        }
        let ipvsControl: any IPVSControl = options.dryRun ? DryRunIPVSControl(wrapping: kernel.ipvs, logger: logger) : kernel.ipvs
        let reconciler = DrainingIPVSReconciler(control: ipvsControl, drainTimeout: configuration.ipvs.drainTimeout,
                                                remembersTable: !options.dryRun)
        let stages: SyncStages
        if options.dryRun {
            // Every sync of a dry run plans and diffs everything: its writes
            // never happen, so the kernel never catches up with a plan, and
            // each sync shows all that a real one would still do.
            stages = SyncStages(allocate: wiring.allocate, plan: wiring.plan, replan: nil, ipvs: reconciler,
                                vips: DryRunVIPControl(wrapping: kernel.vips, logger: logger),
                                snat: DryRunSNATControl(wrapping: kernel.snat, logger: logger),
                                announcer: DryRunAnnouncer(logger: logger), ensureSysctls: { [] })
        } else {
            let snat = RememberedSNATControl(wrapping: kernel.snat)
            stages = SyncStages(allocate: wiring.allocate, plan: wiring.plan, replan: wiring.replan, ipvs: reconciler,
                                vips: kernel.vips, snat: snat, announcer: kernel.announcer,
                                ensureSysctls: kernel.ensureSysctls, forgetKernelView: { snat.forget(); reconciler.forget() })
        }

        let save: @Sendable (AssignmentTable) throws -> Void = { try store.save($0) }
        let persist = options.dryRun ? nil : save
        let onSync: @Sendable (SyncRecord, Bool) -> Void = { record, first in
            // A full sync (start, resync, reload) merges and plans every
            // Service afresh and frees the previous round's values; without
            // this, glibc kept them: at 10,000 Services three full re-plans
            // left 50 MiB more resident than at READY; so did libnftables after
            // a full listing or a whole-table write. After an incremental
            // sync there is little to give back, and giving it costs little.
            FreedMemory.release()
            let text = statusLine(record)
            do {
                try notifier.notify(first ? [.ready, .status(text)] : [.status(text)])
            } catch {
                logger.warning("cannot notify systemd", metadata: ["error": "\(error)"])
            }
            if first { logger.info("ready", metadata: ["status": "\(text)"]) }
        }
        // Consumed: a table of every Service that the first sync replaces with
        // an equal one (persisted = assignments); left in this frame, it
        // would stay for the daemon's life (1.4 MiB at 10,000 Services).
        let loop = ReconcileLoop(stages: stages, configuration: configuration, nodeName: node,
                                 assignments: consume previous, persist: persist, board: board, metrics: metrics,
                                 logger: logger, onSync: onSync)
        // The IPVS dump overlaps the decoding of the manifests, which starts
        // with the ServiceGroup below.
        loop.readKernelAhead()

        let statusServer: StatusServer
        do {
            statusServer = try StatusServer(path: configuration.statusSocket, logger: logger) { board.answer($0) }
        } catch {
            throw DaemonStartupError(what: "serve the status socket", cause: "\(error)")
        }
        defer { statusServer.stop() }

        var metricsServer: MetricsServer?
        if let registry = options.metricsRegistry, let text = configuration.metricsAddress {
            if let address = ListenAddress(parsing: text) {
                do {
                    metricsServer = try MetricsServer(address: address, logger: logger) { registry.emitToBuffer() }
                    logger.info("serving metrics", metadata: ["metrics.address": "\(address)"])
                } catch {
                    // Load balancing matters more than its metrics: keep going, but say so.
                    logger.error("cannot serve metrics", metadata: ["error": "\(error)"])
                    board.note("metrics", "metrics are not served: \(error)")
                }
            } else {
                board.note("metrics", "metrics are not served: \"\(text)\" is not ADDRESS:PORT")
            }
        }
        defer { metricsServer?.stop() }

        let reload = ReloadService(path: options.configPath, running: configuration, load: wiring.loadConfiguration,
                                   loop: loop, reconciler: reconciler, board: board, metrics: metrics, notifier: notifier,
                                   logger: logger)
        // Graceful shutdown runs in reverse order: the loop stops announcing
        // while the announcer still runs, then the announcer closes its sockets.
        var services: [any ServiceLifecycle.Service] = [
            AnnouncerService(announcer: stages.announcer),
            LoopService(loop: loop, notifier: notifier, logger: logger),
            SourceService(source: source, loop: loop, board: board),
            reload,
        ]
        if let interval = SystemdNotifier.watchdogInterval(environment: options.environment) {
            services.append(WatchdogService(interval: interval, loop: loop, notifier: notifier, logger: logger))
        }
        logger.info("starting", metadata: [
            "config.path": "\(options.configPath)", "source": "\(source.description)",
            "status.socket": "\(configuration.statusSocket)", "dry_run": "\(options.dryRun)",
        ])
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// The line `systemctl status` shows.
    static func statusLine(_ r: SyncRecord) -> String {
        let allocated = r.allocation.assignments.count
        var text = "\(StatusBoard.handledCount(r)) Services (\(allocated) with an address), \(r.plan.localAnnouncements.count) announced here"
        if !r.dataPlane.errors.isEmpty { text += "; last sync: \(r.dataPlane.errors.count) errors" }
        return text
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Runs the announcer (its interface scans and bursts) until shutdown.
struct AnnouncerService: ServiceLifecycle.Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description; the default would print every field.
    var description: String { "AnnouncerService" }

    let announcer: any Announcing

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await announcer.run() }
    }
}

/// Runs the reconcile loop; on graceful shutdown stops announcing (see the top of this file).
struct LoopService: ServiceLifecycle.Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description; the default would print every field.
    var description: String { "LoopService" }

    let loop: ReconcileLoop
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown { await loop.run() }
        try? notifier.notify(.stopping)
        logger.info("stopping: announcements end so a peer takes over; the data plane stays in place")
        await loop.stopAnnouncing()
    }
}

/// Feeds source updates to the loop.
struct SourceService: ServiceLifecycle.Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description; the default would print every field.
    var description: String { "SourceService" }

    let source: any ServiceSourcing
    let loop: ReconcileLoop
    let board: StatusBoard

    func run() async throws {
        let updates = try source.updates()
        defer { source.stop() }
        for await update in updates.cancelOnGracefulShutdown() {
            board.sourceProblems(update.problems)
            await loop.sourceChanged(update.snapshot, changes: update.changes)
        }
    }
}

/// SIGHUP → reload.
struct ReloadService: ServiceLifecycle.Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description; the default would print every field.
    var description: String { "ReloadService" }

    let path: String
    let running: Configuration
    let load: @Sendable (String) throws -> LoadedConfiguration
    let loop: ReconcileLoop
    let reconciler: DrainingIPVSReconciler?
    let board: StatusBoard
    let metrics: BallastMetrics?
    let notifier: SystemdNotifier
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        try? notifier.notifyReloading()
        defer { try? notifier.notify(.ready) }
        let loaded: Configuration
        do {
            let result = try load(path)
            loaded = result.configuration
            for diagnostic in result.diagnostics where diagnostic.severity != .note {
                logger.warning("configuration warning", metadata: ["config.path": "\(path)", "warning": "\(diagnostic)"])
            }
        } catch {
            logger.error("configuration reload rejected; the previous configuration stays in force",
                         metadata: ["config.path": "\(path)", "error": "\(error)"])
            board.configRejected("\(error)")
            metrics?.record(configStale: true)
            try? notifier.notify(.status("configuration reload rejected: \(error)"))
            return
        }
        let (applied, ignored) = Self.merge(loaded, into: await loop.currentConfiguration)
        for field in ignored {
            logger.warning("configuration change needs a restart to take effect", metadata: ["config.field": "\(field)"])
        }
        reconciler?.setDrainTimeout(applied.ipvs.drainTimeout)
        await loop.configurationChanged(applied)
        board.configLoaded(at: Date())
        metrics?.record(configStale: false)
        logger.info("configuration reloaded", metadata: ["config.path": "\(path)"])
    }

    /// Settings that a running daemon cannot switch (its socket, state
    /// directory, source, link, node identity and announcer settings) keep their running values;
    /// the others apply at once. Returns the names of the kept-back fields that changed.
    static func merge(_ loaded: Configuration, into running: Configuration) -> (Configuration, [String]) {
        var applied = loaded
        var ignored: [String] = []
        func keep<T: Equatable>(_ name: String, _ field: WritableKeyPath<Configuration, T>) {
            if loaded[keyPath: field] != running[keyPath: field] {
                ignored.append(name)
                applied[keyPath: field] = running[keyPath: field]
            }
        }
        keep("source", \.source)
        keep("nodeName", \.nodeName)
        keep("stateDirectory", \.stateDirectory)
        keep("statusSocket", \.statusSocket)
        keep("metricsAddress", \.metricsAddress)
        keep("vipInterface", \.vipInterface)
        // The announcer is built with its burst and refresh settings at start.
        keep("announce", \.announce)
        return (applied, ignored)
    }
}

/// WATCHDOG=1 every half $WATCHDOG_USEC while the loop answers and no sync
/// hangs; if one hangs (a kernel call that never returns), systemd restarts us.
struct WatchdogService: ServiceLifecycle.Service, CustomStringConvertible {
    /// ServiceLifecycle logs services by description; the default would print every field.
    var description: String { "WatchdogService" }

    let interval: Duration
    let loop: ReconcileLoop
    let notifier: SystemdNotifier
    let logger: Logger
    /// A sync may legitimately take long (programming 100k destinations into an
    /// empty table took ~33 s in the test VM); this is far beyond that.
    static let hungSync: Duration = .seconds(600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let running = await loop.currentSyncDuration, running > Self.hungSync {
                    logger.critical("a sync has been running for \(running); no longer petting the watchdog")
                } else {
                    try? notifier.notify(.watchdog)
                }
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
            }
        }
    }
}
