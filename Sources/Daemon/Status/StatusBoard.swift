// What the daemon knows about itself, kept current by the loop and the
// reload path, read by the status server's thread. Answers are computed from
// this snapshot only: a status request never touches the kernel or waits for
// a sync, so `ballastctl status` works even while a sync is stuck.
import BallastCore
import FoundationEssentials
import Synchronization

/// One completed sync, as the board records it.
public struct SyncRecord: Sendable {
    public var at: Date
    public var duration: Duration
    public var reasons: [String]
    public var configuration: Configuration
    public var snapshot: ClusterSnapshot
    public var allocation: AllocationResult
    public var plan: DesiredState
    public var dataPlane: DataPlaneOutcome

    public init(at: Date, duration: Duration, reasons: [String], configuration: Configuration, snapshot: ClusterSnapshot,
                allocation: AllocationResult, plan: DesiredState, dataPlane: DataPlaneOutcome) {
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
            counts.services = handledCount(sync)
            counts.allocated = sync.allocation.assignments.count
            counts.announced = sync.plan.localAnnouncements.count
            counts.draining = sync.dataPlane.draining.count
            let table = sync.dataPlane.ipvs.table
            for service in sync.plan.ipvs {
                guard let destinations = table.destinationCount(of: service.key) else { continue }
                counts.ipvsServices += 1
                counts.ipvsDestinations += destinations
            }
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
        let observed = sync.dataPlane.ipvs.table
        let draining = Set(sync.dataPlane.draining.map(\.address))
        return handledPlans(sync).map { p in
            let service = sync.snapshot.services[p.ref]
            return ServiceRow(
                namespace: p.ref.namespace, name: p.ref.name, type: service?.type.rawValue ?? ServiceType.loadBalancer.rawValue,
                externalIPs: p.addresses, pool: p.pool, announcingNodes: Array(Set(p.announcers.nodes)).sorted(),
                drainingAddresses: p.addresses.filter(draining.contains),
                trafficPolicy: p.externalTrafficPolicy.rawValue, endpointsReady: p.endpoints.ready,
                endpointsTotal: p.endpoints.total,
                ipvsDestinations: p.virtualServices.reduce(0) { $0 + (observed.destinationCount(of: $1) ?? 0) },
                problem: problem(for: p, sync))
        }
    }

    /// The first thing wrong with a Service, in one phrase.
    static func problem(for p: ServicePlan, _ sync: SyncRecord) -> String? {
        if let failure = sync.allocation.failures[p.ref] { return failure.description }
        let keys = Set(p.virtualServices)
        if let failure = sync.dataPlane.ipvs.errors.first(where: { $0.service.map(keys.contains) ?? false }) {
            return failure.description
        }
        return p.reasons.first
    }

    static func poolRows(_ s: State) -> [PoolRow] {
        s.lastSync.map(poolRows) ?? []
    }

    /// The planner's pool usage, with each pool's autoAssign from the configuration.
    static func poolRows(_ sync: SyncRecord) -> [PoolRow] {
        let autoAssign = Dictionary(sync.configuration.pools.map { ($0.name, $0.autoAssign) }, uniquingKeysWith: { a, _ in a })
        return sync.plan.pools.sorted().map {
            PoolRow(name: $0.pool, family: $0.family, size: $0.size, inUse: $0.inUse, autoAssign: autoAssign[$0.pool] ?? true)
        }
    }

    static func explain(_ ref: ObjectRef, _ s: State) -> ExplainResponse {
        guard let sync = s.lastSync else {
            return ExplainResponse(service: ref.description, sentences: ["ballastd has not completed its first sync yet."])
        }
        if let reason = sync.allocation.ignored[ref] {
            return ExplainResponse(service: ref.description, sentences: [sentence("Ballast leaves it alone: \(reason)")])
        }
        guard let p = sync.plan.services[ref] else {
            let service = sync.snapshot.services[ref]
            let sentence = switch service?.type {
            case nil: "No Service of that name is known: \(s.source) defines none. Check the namespace and name."
            case .loadBalancer?: "It is a LoadBalancer Service, but Ballast made no plan for it."
            case let type?: "Ballast leaves it alone: its type is \(type.rawValue), and Ballast handles LoadBalancer Services only."
            }
            return ExplainResponse(service: ref.description, sentences: [sentence])
        }
        var sentences: [String] = []
        if p.addresses.isEmpty {
            sentences.append(sentence("It has no address" + (sync.allocation.failures[ref].map { ": \($0)" } ?? "")))
        } else {
            sentences.append("It has \(list(p.addresses.map(\.description)))" + (p.pool.map { " from pool \($0)." } ?? "."))
        }
        sentences += p.withdrawn.map { sentence($0.description) }
        sentences.append(sentence("Endpoints: \(p.endpoints); externalTrafficPolicy is \(p.externalTrafficPolicy.rawValue)"))
        let draining = Set(sync.dataPlane.draining.map(\.address))
        for address in p.addresses {
            switch p.announcers[address] {
            case s.node?: sentences.append("This node (\(s.node)) announces \(address).")
            case let other?: sentences.append("Node \(other) announces \(address), not this node (\(s.node)).")
            case nil where draining.contains(address):
                sentences.append("No node announces \(address), but this node (\(s.node)) keeps answering ARP/NDP for it "
                    + "while connections drain through it, without taking it over; new connections find no endpoint.")
            case nil: sentences.append("No node announces \(address), so it is unreachable.")
            }
        }
        sentences += p.reasons.map(sentence)
        let observed = sync.dataPlane.ipvs.table
        for key in p.virtualServices {
            if let o = observed[key] {
                let draining = o.destinations.filter { $0.destination.weight == 0 }.count
                sentences.append("IPVS on this node has \(key) with \(o.destinations.count) destination\(o.destinations.count == 1 ? "" : "s")"
                    + (draining == 0 ? "." : " (\(draining) draining at weight 0)."))
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

    /// The planner also lists LoadBalancer Services that belong to another
    /// implementation (with the reason); those are not Ballast's to show.
    static func handledPlans(_ sync: SyncRecord) -> [ServicePlan] {
        sync.plan.services.values.filter { sync.allocation.ignored[$0.ref] == nil }.sorted { $0.ref < $1.ref }
    }

    /// How many plans `handledPlans` would list, without copying and sorting
    /// them: the status line and every sync's log need the count only
    /// (sorting 10,000 plans to count them cost as much as planning them).
    static func handledCount(_ sync: SyncRecord) -> Int {
        sync.plan.services.keys.count { sync.allocation.ignored[$0] == nil }
    }

    /// Capitalised and ending with a full stop, as the planner's phrases are not.
    static func sentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        let body = first.uppercased() + text.dropFirst()
        return body.hasSuffix(".") ? body : body + "."
    }

    static func ipvs(_ s: State) -> IPVSResponse {
        guard let sync = s.lastSync else { return IPVSResponse(observedAt: nil, services: []) }
        var owner: [VirtualServiceKey: String] = [:]
        for p in sync.plan.services.values {
            for key in p.virtualServices { owner[key] = p.ref.description }
        }
        // The table lists services by key and destinations by endpoint already.
        let rows = Array(sync.dataPlane.ipvs.table.lazyServices.map { o in
            IPVSServiceRow(service: o.key.description, scheduler: o.scheduler, owner: owner[o.key],
                           destinations: o.destinations.map { d in
                               IPVSDestinationRow(address: d.destination.endpoint.description, forwarding: d.destination.forwarding,
                                                  weight: d.destination.weight, activeConnections: d.activeConnections,
                                                  inactiveConnections: d.inactiveConnections)
                           })
        })
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
