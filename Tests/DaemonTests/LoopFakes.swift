// Local test doubles for the loop's kernel seams (BallastFakes gets the shared
// FakeIPVS/FakeVIP/FakeSNAT from their owners; these stay minimal).
import BallastCore
import Daemon
import Foundation
import Synchronization

final class TestVIPs: VIPControl {
    let state = Mutex<(link: Bool, addresses: Set<IPAddress>, failAdd: Set<IPAddress>)>((false, [], []))
    func ensureLink() throws(DataPlaneError) { state.withLock { $0.link = true } }
    func addresses() throws(DataPlaneError) -> Set<IPAddress> { state.withLock { $0.addresses } }
    func add(_ address: IPAddress) throws(DataPlaneError) {
        let fail = state.withLock { s -> Bool in
            if s.failAdd.contains(address) { return true }
            s.addresses.insert(address)
            return false
        }
        if fail { throw DataPlaneError(operation: "add \(address)/32 to ballast0", errno: 17, reason: "File exists") }
    }
    func remove(_ address: IPAddress) throws(DataPlaneError) { state.withLock { _ = $0.addresses.remove(address) } }
    func removeLink() throws(DataPlaneError) { state.withLock { $0 = (false, [], $0.failAdd) } }
    var current: Set<IPAddress> { state.withLock { $0.addresses } }
}

final class TestSNAT: SNATControl {
    let state = Mutex<(rules: [SNATRule]?, replacements: Int)>((nil, 0))
    func current() throws(DataPlaneError) -> [SNATRule]? { state.withLock { $0.rules } }
    func replace(with rules: [SNATRule]) throws(DataPlaneError) { state.withLock { $0.rules = rules; $0.replacements += 1 } }
    func removeTable() throws(DataPlaneError) { state.withLock { $0.rules = nil } }
    var replacements: Int { state.withLock { $0.replacements } }
}

/// Keeps a table of virtual services; reconcile replaces the owned part.
final class TestIPVSReconciler: IPVSReconciling {
    let state = Mutex<(table: [VirtualServiceKey: IPVSVirtualService], calls: Int)>(([:], 0))
    /// When set, reconcile waits on it (to hold a sync in progress).
    let gate = Mutex<DispatchSemaphore?>(nil)
    let enteredCount = Mutex(0)
    var entered: Int { enteredCount.withLock { $0 } }

    func reconcile(desired: [IPVSVirtualService], owns: @escaping @Sendable (VirtualServiceKey) -> Bool) -> IPVSReconcileReport {
        enteredCount.withLock { $0 += 1 }
        if let g = gate.withLock({ $0 }) { g.wait() }
        return state.withLock { s in
            s.calls += 1
            var performed: [IPVSOperationKind: Int] = [:]
            let wanted = Dictionary(uniqueKeysWithValues: desired.map { ($0.key, $0) })
            for key in s.table.keys where owns(key) && wanted[key] == nil {
                s.table[key] = nil
                performed[.deleteService, default: 0] += 1
            }
            for (key, service) in wanted where s.table[key] != service {
                performed[s.table[key] == nil ? .addService : .editService, default: 0] += 1
                s.table[key] = service
            }
            let observed = s.table.values.map { v in
                ObservedVirtualService(key: v.key, scheduler: v.scheduler,
                                       destinations: v.destinations.map { ObservedDestination(destination: $0) })
            }
            return IPVSReconcileReport(performed: performed, observed: observed)
        }
    }

    var table: [VirtualServiceKey: IPVSVirtualService] { state.withLock { $0.table } }
    var calls: Int { state.withLock { $0.calls } }
    func insertForeign(_ key: VirtualServiceKey) {
        state.withLock { $0.table[key] = IPVSVirtualService(key: key) }
    }
}

actor TestAnnouncer: Announcing {
    private(set) var current: [Announcement] = []
    private(set) var stopped = false
    func announce(_ announcements: [Announcement]) { current = announcements }
    func stopAll() { current = []; stopped = true }
}

/// A small allocator: keeps previous addresses, else takes the first free one of the first pool.
let testAllocate: AllocateStage = { snapshot, configuration, previous in
    var table: AssignmentTable = [:]
    var ignored: [ObjectRef: String] = [:]
    var problems: [ObjectRef: String] = [:]
    let pool = configuration.pools.first
    var used = Set(previous.values.flatMap(\.addresses))
    for (ref, service) in snapshot.services.sorted(by: { $0.key < $1.key }) {
        guard service.type == .loadBalancer else { ignored[ref] = "type is \(service.type.rawValue), not LoadBalancer"; continue }
        if let kept = previous[ref] { table[ref] = kept; continue }
        guard let pool, let range = pool.ranges.first else { problems[ref] = "no pool configured"; continue }
        var candidate: IPAddress? = range.first
        while let c = candidate, used.contains(c) { candidate = c < range.last ? c.advanced(by: 1) : nil }
        guard let address = candidate else { problems[ref] = "pool \(pool.name) is exhausted"; continue }
        used.insert(address)
        table[ref] = ServiceAssignment(pool: pool.name, addresses: [address])
    }
    return AllocationOutcome(assignments: table, problems: problems, ignored: ignored)
}

/// A small planner: one TCP virtual service per address and port, announced by "n1".
let testPlan: PlanStage = { snapshot, allocation, configuration, node in
    var plan = SyncPlan()
    for (ref, assignment) in allocation.assignments {
        guard let service = snapshot.services[ref] else { continue }
        let keys = assignment.addresses.flatMap { a in service.ports.map { VirtualServiceKey.address(a, port: $0.port, protocol: $0.protocol) } }
        for key in keys {
            plan.ipvs.append(IPVSVirtualService(key: key, scheduler: configuration.ipvs.scheduler,
                                                destinations: [IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080)]))
        }
        plan.vips.formUnion(assignment.addresses)
        plan.announcements += assignment.addresses.map { Announcement(address: $0) }
        if service.externalTrafficPolicy == .cluster {
            plan.snat += assignment.addresses.flatMap { a in service.ports.map {
                SNATRule(address: a, port: $0.port, protocol: $0.protocol, destinations: [IPAddress("10.0.0.5")!])
            } }
        }
        plan.services[ref] = ServicePlan(ref: ref, pool: assignment.pool, addresses: assignment.addresses, announcingNode: node,
                                         trafficPolicy: service.externalTrafficPolicy, endpointsReady: 1, endpointsTotal: 1,
                                         virtualServices: keys)
    }
    return plan
}

func lbService(_ name: String, port: UInt16 = 80, policy: TrafficPolicy = .cluster) -> Service {
    Service(ref: ref(name), type: .loadBalancer, ports: [ServicePort(port: port)], externalTrafficPolicy: policy)
}

func testConfiguration(resync: Duration = .seconds(3600)) -> Configuration {
    let range = AddressRange(first: IPAddress("192.0.2.10")!, last: IPAddress("192.0.2.12")!)!
    return Configuration(pools: [AddressPool(name: "public", ranges: [range])], ipvs: IPVSSettings(resyncInterval: resync))
}
