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

    func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport {
        enteredCount.withLock { $0 += 1 }
        if let g = gate.withLock({ $0 }) { g.wait() }
        return state.withLock { s in
            s.calls += 1
            var performed: [IPVSOperationKind: Int] = [:]
            let wanted = Dictionary(uniqueKeysWithValues: desired.map { ($0.key, $0) })
            for key in s.table.keys where ownership.owns(key) && wanted[key] == nil {
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
    func run() async throws {
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
    }
    func announce(_ announcements: [Announcement]) { current = announcements }
    func stopAll() { current = []; stopped = true }
    var addresses: [IPAddress] { current.map(\.address) }
}

/// A LoadBalancer Service with one TCP port and, unless `endpoints` is 0, an
/// EndpointSlice of ready endpoints 10.0.0.5... on node n1 (target port 8080).
func lbService(_ name: String, port: UInt16 = 80, policy: TrafficPolicy = .cluster) -> Service {
    Service(ref: ref(name), type: .loadBalancer, ports: [ServicePort(port: port, targetPort: .number(8080))],
            selector: ["app": ref(name).name], externalTrafficPolicy: policy, ipFamilies: [.ipv4])
}

func slice(for name: String, endpoints: Int = 1, node: String = "n1") -> EndpointSlice {
    let service = ref(name)
    return EndpointSlice(
        ref: ObjectRef(namespace: service.namespace, name: "\(service.name)-abc"), serviceName: service.name,
        addressType: .ipv4,
        endpoints: (0..<endpoints).map { i in
            Endpoint(addresses: [IPAddress("10.0.0.\(5 + i)")!], conditions: EndpointConditions(ready: true), nodeName: node)
        },
        ports: [EndpointPort(port: 8080)])
}

/// Services with their slices, and node n1.
func snapshot(_ names: String...) -> ClusterSnapshot {
    var s = ClusterSnapshot(nodes: ["n1": Node(name: "n1")])
    for name in names {
        s.services[ref(name)] = lbService(name)
        let sl = slice(for: name)
        s.endpointSlices[sl.ref] = sl
    }
    return s
}

func testConfiguration(resync: Duration = .seconds(3600)) -> Configuration {
    let range = AddressRange(first: IPAddress("192.0.2.10")!, last: IPAddress("192.0.2.12")!)!
    return Configuration(pools: [AddressPool(name: "public", ranges: [range])], ipvs: IPVSSettings(resyncInterval: resync))
}
