// Test doubles for the daemon's own seams. The kernel objects themselves are
// BallastFakes' FakeIPVS, FakeVIPControl and FakeSNATControl.
import BallastCore
import BallastFakes
import Daemon
import Foundation
import Synchronization

/// Passes reconciles through, optionally holding them at a gate so a test can
/// act while a sync is in progress.
final class GatedReconciler: IPVSReconciling {
    let wrapped: any IPVSReconciling
    let gate = Mutex<DispatchSemaphore?>(nil)
    private let enteredCount = Mutex(0)
    var entered: Int { enteredCount.withLock { $0 } }

    init(_ wrapped: any IPVSReconciling) { self.wrapped = wrapped }

    func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport {
        enteredCount.withLock { $0 += 1 }
        if let g = gate.withLock({ $0 }) { g.wait() }
        return wrapped.reconcile(desired: desired, ownership: ownership)
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
            Endpoint(address: IPAddress("10.0.0.\(5 + i)")!, conditions: EndpointConditions(ready: true), nodeName: node)
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
