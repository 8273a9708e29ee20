// What the daemon knows about itself, kept current by the loop and the
// reload path, read by the status server's thread. Answers are computed from
// this snapshot only: a status request never touches the kernel or waits for
// a sync, so `ballastctl status` works even while a sync is stuck.
import BallastCore
import Foundation
import Synchronization

/// One completed sync, as the board records it.
public struct SyncRecord: Sendable {
    public var at: Date
    public var duration: Duration
    public var reasons: [String]
    public var configuration: Configuration
    public var snapshot: ClusterSnapshot
    public var allocation: AllocationOutcome
    public var plan: SyncPlan
    public var dataPlane: DataPlaneOutcome

    public init(at: Date, duration: Duration, reasons: [String], configuration: Configuration, snapshot: ClusterSnapshot,
                allocation: AllocationOutcome, plan: SyncPlan, dataPlane: DataPlaneOutcome) {
        self.at = at
        self.duration = duration
        self.reasons = reasons
        self.configuration = configuration
        self.snapshot = snapshot
        self.allocation = allocation
        self.plan = plan
        self.dataPlane = dataPlane
    }
}

public final class StatusBoard: Sendable {
    struct State {
        var node: String
        var dryRun: Bool
        var startedAt: Date
        var config: ConfigStatus
        var source: String
        var sourceProblems: [String] = []
        var lastSync: SyncRecord?
        var lastSuccessfulSyncAt: Date?
        /// Standing problems outside syncs, by topic ("state", "metrics").
        var notes: [String: String] = [:]
    }

    private let state: Mutex<State>

    public init(node: String, dryRun: Bool, startedAt: Date, configPath: String, source: String) {
        state = Mutex(State(node: node, dryRun: dryRun, startedAt: startedAt,
                            config: ConfigStatus(path: configPath, state: .current, loadedAt: startedAt), source: source))
    }

    public func configLoaded(at date: Date) {
        state.withLock { $0.config = ConfigStatus(path: $0.config.path, state: .current, loadedAt: date) }
    }

    /// A reload was rejected: the previous configuration keeps running, marked stale.
    public func configRejected(_ error: String) {
        state.withLock { $0.config.state = .stale; $0.config.error = error }
    }

    public func sourceProblems(_ problems: [String]) {
        state.withLock { $0.sourceProblems = problems }
    }

    /// Sets (or clears, with nil) a standing problem under `topic`.
    public func note(_ topic: String, _ problem: String?) {
        state.withLock { $0.notes[topic] = problem }
    }

    public func recordSync(_ record: SyncRecord) {
        state.withLock {
            $0.lastSync = record
            if record.dataPlane.errors.isEmpty { $0.lastSuccessfulSyncAt = record.at }
        }
    }

    public var configIsStale: Bool { state.withLock { $0.config.state == .stale } }

    /// The status server's handler.
    public func answer(_ request: StatusRequest, now: Date = Date()) -> StatusReply {
        let s = state.withLock { $0 }
        switch request {
        case .status: return StatusReply(status: Self.status(s))
        case .services: return StatusReply(services: ServicesResponse(services: Self.serviceRows(s)))
        case .pools: return StatusReply(pools: PoolsResponse(pools: Self.poolRows(s)))
        case .explain(let ref): return StatusReply(explain: Self.explain(ref, s))
        case .ipvs: return StatusReply(ipvs: Self.ipvs(s))
        }
    }

    // MARK: - Answers

    static func status(_ s: State) -> StatusResponse {
        var problems: [String] = []
        if s.config.state == .stale {
            problems.append("the configuration in force is stale: the last reload of \(s.config.path) was rejected")
        }
        if !s.sourceProblems.isEmpty {
            problems.append("\(s.sourceProblems.count) manifest problem\(s.sourceProblems.count == 1 ? "" : "s") (see source below)")
        }
        if let sync = s.lastSync, !sync.dataPlane.errors.isEmpty {
            problems.append("the last sync had \(sync.dataPlane.errors.count) failed operation\(sync.dataPlane.errors.count == 1 ? "" : "s")")
        }
        problems += s.notes.sorted { $0.key < $1.key }.map(\.value)
        let health: Health = s.lastSync == nil ? .starting : (problems.isEmpty ? .ok : .degraded)
        var counts = StatusCounts()
        if let sync = s.lastSync {
            counts.services = sync.plan.services.count
            counts.allocated = sync.plan.services.values.filter { !$0.addresses.isEmpty }.count
            counts.announced = sync.plan.announcements.count
            let owned = Set(sync.plan.ipvs.map(\.key))
            let observed = sync.dataPlane.ipvs.observed.filter { owned.contains($0.key) }
            counts.ipvsServices = observed.count
            counts.ipvsDestinations = observed.reduce(0) { $0 + $1.destinations.count }
        }
        return StatusResponse(
            node: s.node, health: health, problems: problems, dryRun: s.dryRun, startedAt: s.startedAt, config: s.config,
            source: s.source, sourceProblems: s.sourceProblems,
            lastSync: s.lastSync.map {
                SyncStatus(at: $0.at, durationSeconds: seconds($0.duration), reason: $0.reasons.joined(separator: ","),
                           errors: $0.dataPlane.errors)
            },
            lastSuccessfulSyncAt: s.lastSuccessfulSyncAt, counts: counts)
    }

    static func serviceRows(_ s: State) -> [ServiceRow] {
        guard let sync = s.lastSync else { return [] }
        let observed = Dictionary(sync.dataPlane.ipvs.observed.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        return sync.plan.services.values.sorted { $0.ref < $1.ref }.map { p in
            let service = sync.snapshot.services[p.ref]
            return ServiceRow(
                namespace: p.ref.namespace, name: p.ref.name, type: service?.type.rawValue ?? ServiceType.loadBalancer.rawValue,
                externalIPs: p.addresses, pool: p.pool, announcingNode: p.announcingNode,
                trafficPolicy: p.trafficPolicy.rawValue, endpointsReady: p.endpointsReady, endpointsTotal: p.endpointsTotal,
                ipvsDestinations: p.virtualServices.reduce(0) { $0 + (observed[$1]?.destinations.count ?? 0) },
                problem: problem(for: p, sync))
        }
    }

    /// The first thing wrong with a Service, in one phrase.
    static func problem(for p: ServicePlan, _ sync: SyncRecord) -> String? {
        if let problem = sync.allocation.problems[p.ref] { return problem }
        let keys = Set(p.virtualServices)
        if let failure = sync.dataPlane.ipvs.errors.first(where: { $0.service.map(keys.contains) ?? false }) {
            return failure.description
        }
        if p.endpointsReady == 0 { return "no ready endpoints" }
        if p.announcingNode == nil && !p.addresses.isEmpty { return "no node announces it" }
        return nil
    }

    static func poolRows(_ s: State) -> [PoolRow] {
        guard let sync = s.lastSync else { return [] }
        return PoolUsage.rows(pools: sync.configuration.pools, assignments: sync.allocation.assignments)
    }

    static func explain(_ ref: ObjectRef, _ s: State) -> ExplainResponse {
        guard let sync = s.lastSync else {
            return ExplainResponse(service: ref.description, sentences: ["ballastd has not completed its first sync yet."])
        }
        if let reason = sync.allocation.ignored[ref] {
            return ExplainResponse(service: ref.description, sentences: ["Ballast leaves it alone: \(reason)."])
        }
        guard let p = sync.plan.services[ref] else {
            let known = sync.snapshot.services[ref] != nil
            return ExplainResponse(service: ref.description, sentences: [
                known ? "It is in the source, but Ballast does not handle it."
                      : "No Service of that name is known: \(s.source) defines none. Check the namespace and name.",
            ])
        }
        var sentences: [String] = []
        if p.addresses.isEmpty {
            sentences.append("It has no address" + (sync.allocation.problems[ref].map { ": \($0)." } ?? "."))
        } else {
            sentences.append("It has \(list(p.addresses.map(\.description)))" + (p.pool.map { " from pool \($0)." } ?? "."))
            if let problem = sync.allocation.problems[ref] { sentences.append(problem + ".") }
        }
        sentences.append("\(p.endpointsReady) of \(p.endpointsTotal) endpoint\(p.endpointsTotal == 1 ? " is" : "s are") ready; externalTrafficPolicy is \(p.trafficPolicy.rawValue).")
        switch p.announcingNode {
        case s.node?: sentences.append("This node (\(s.node)) announces it.")
        case let other?: sentences.append("Node \(other) announces it, not this node (\(s.node)).")
        case nil: if !p.addresses.isEmpty { sentences.append("No node announces it, so it is unreachable.") }
        }
        sentences += p.reasons
        let observed = Dictionary(sync.dataPlane.ipvs.observed.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        for key in p.virtualServices {
            if let o = observed[key] {
                let weighted = o.destinations.filter { $0.destination.weight > 0 }.count
                sentences.append("IPVS on this node has \(key) with \(o.destinations.count) destination\(o.destinations.count == 1 ? "" : "s")"
                    + (weighted == o.destinations.count ? "." : " (\(o.destinations.count - weighted) draining at weight 0)."))
            } else {
                sentences.append("IPVS on this node lacks \(key).")
            }
        }
        let keys = Set(p.virtualServices)
        for failure in sync.dataPlane.ipvs.errors where failure.service.map(keys.contains) ?? false {
            sentences.append("The last sync failed to \(failure.error.description).")
        }
        return ExplainResponse(service: ref.description, sentences: sentences)
    }

    static func ipvs(_ s: State) -> IPVSResponse {
        guard let sync = s.lastSync else { return IPVSResponse(observedAt: nil, services: []) }
        var owner: [VirtualServiceKey: String] = [:]
        for p in sync.plan.services.values {
            for key in p.virtualServices { owner[key] = p.ref.description }
        }
        let rows = sync.dataPlane.ipvs.observed.sorted { $0.key < $1.key }.map { o in
            IPVSServiceRow(service: o.key.description, scheduler: o.scheduler, owner: owner[o.key],
                           destinations: o.destinations.sorted { $0.destination < $1.destination }.map { d in
                               IPVSDestinationRow(address: d.destination.endpoint.description, forwarding: d.destination.forwarding,
                                                  weight: d.destination.weight, activeConnections: d.activeConnections,
                                                  inactiveConnections: d.inactiveConnections)
                           })
        }
        let dumpError = sync.dataPlane.ipvs.errors.first { $0.service == nil }?.description
        return IPVSResponse(observedAt: sync.at, services: rows, error: dumpError)
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func list(_ items: [String]) -> String {
        switch items.count {
        case 0: ""
        case 1: items[0]
        default: items.dropLast().joined(separator: ", ") + " and " + items.last!
        }
    }
}
