// Timing of the pure core: allocation and planning at cluster scale.
// Run through scripts/bench/core-bench (release build). Prints numbers; asserts nothing.
import BallastCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let serviceCount = 10_000
let endpointsPerService = 10
let nodeCount = 20
let runs = 7

func address(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad address \(text)") }
    return a
}

/// Two /16 pools (65,536 addresses each): one selecting half the namespaces by
/// priority, one open; plus an IPv6 range for the dual-stack Services.
let pools = [
    AddressPool(name: "open", ranges: [AddressRange(try! CIDR(parsing: "10.1.0.0/16")),
                                       AddressRange(try! CIDR(parsing: "2001:db8:1::/112"))]),
    AddressPool(name: "teams", ranges: [AddressRange(try! CIDR(parsing: "10.2.0.0/16"))], avoidBuggyIPs: true,
                serviceAllocation: ServiceAllocation(priority: 1, namespaces: (0..<5).map { "ns-\($0)" })),
]
let configuration = Configuration(pools: pools)

var services: [ObjectRef: Service] = [:]
var slices: [ObjectRef: EndpointSlice] = [:]
for i in 0..<serviceCount {
    let ref = ObjectRef(namespace: "ns-\(i % 10)", name: "svc-\(i)")
    var annotations: [String: String] = [:]
    // Every 10th Service shares with its neighbour on another port; every 50th asks for an address.
    if i % 10 == 0 || i % 10 == 1 { annotations["metallb.io/allow-shared-ip"] = "pair-\(i / 10)" }
    if i % 50 == 7 { annotations["metallb.io/loadBalancerIPs"] = "10.1.\(200 + i / 50 / 250).\(i / 50 % 250 + 1)" }
    let local = i % 4 == 0
    services[ref] = Service(ref: ref, annotations: annotations, type: .loadBalancer,
                            ports: [ServicePort(name: "http", port: i % 10 == 1 ? 443 : 80, targetPort: .name("http"))],
                            selector: ["app": "svc-\(i)"], externalTrafficPolicy: local ? .local : .cluster,
                            ipFamilyPolicy: i % 20 == 3 ? .preferDualStack : nil)
    let endpoints = (0..<endpointsPerService).map { e in
        Endpoint(address: .v4(IPv4Address(0x6400_0000 | UInt32(i) << 4 | UInt32(e))),
                 conditions: EndpointConditions(ready: e != 9, serving: true, terminating: e == 9),
                 nodeName: "node-\((i + e) % nodeCount)")
    }
    let sliceRef = ObjectRef(namespace: ref.namespace, name: "svc-\(i)-abc")
    slices[sliceRef] = EndpointSlice(ref: sliceRef, serviceName: ref.name, addressType: .ipv4, endpoints: endpoints,
                                     ports: [EndpointPort(name: "http", port: 8080)])
}
let nodes = Dictionary(uniqueKeysWithValues: (0..<nodeCount).map { ("node-\($0)", Node(name: "node-\($0)")) })
let namespaces = Dictionary(uniqueKeysWithValues: (0..<10).map { ("ns-\($0)", Namespace(name: "ns-\($0)")) })
let snapshot = ClusterSnapshot(services: services, endpointSlices: slices, nodes: nodes, namespaces: namespaces)
let live = Set(nodes.keys)

/// CPU time of this thread: on a shared, loaded machine wall-clock time mostly measures the neighbours.
func threadCPUTime() -> Duration {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
}

func ms(_ d: Duration) -> String {
    // Integer arithmetic: Double.rounded() would need libm for nothing.
    let micros = d.components.seconds * 1_000_000 + d.components.attoseconds / 1_000_000_000_000
    let tenths = (micros + 50) / 100
    return "\(tenths / 10).\(tenths % 10) ms"
}

func measure<T>(_ title: String, _ body: () -> T, summary: (T) -> String) {
    let clock = ContinuousClock()
    var wall: [Duration] = []
    var cpu: [Duration] = []
    // Results are kept until the end so that freeing one is not timed as part of the next run.
    var results: [T] = []
    results.reserveCapacity(runs)
    for _ in 0..<runs {
        let start = clock.now, startCPU = threadCPUTime()
        let result = body()
        cpu.append(threadCPUTime() - startCPU)
        wall.append(clock.now - start)
        results.append(result)
    }
    wall.sort()
    cpu.sort()
    print("\(title): CPU median \(ms(cpu[runs / 2])) (min \(ms(cpu[0]))), wall median \(ms(wall[runs / 2])) "
          + "over \(runs) runs; \(summary(results[0]))")
}

let allocator = Allocator(configuration: configuration)
print("core-bench: \(serviceCount) LoadBalancer Services, pools of 65,536 addresses, "
      + "\(endpointsPerService) endpoints per Service, \(nodeCount) nodes")
measure("allocate, first run (no previous state)", { allocator.allocate(snapshot: snapshot) }) {
    "\($0.assignments.count) assigned, \($0.failures.count) failed"
}
let first = allocator.allocate(snapshot: snapshot)
measure("allocate, resync (previous = last result)", { allocator.allocate(snapshot: snapshot, previous: first.addresses) }) {
    "\($0.assignments.count) assigned, \($0.withdrawals.count) with withdrawals"
}
let planner = Planner(configuration: configuration, nodeName: "node-0")
measure("plan \(serviceCount) Services x \(endpointsPerService) endpoints", {
    planner.plan(snapshot: snapshot, allocation: first, liveNodes: live)
}) { state in
    "\(state.ipvs.count) virtual services, \(state.ipvs.reduce(0) { $0 + $1.destinations.count }) destinations, "
        + "\(state.vips.count) VIPs here, \(state.snat.count) SNAT rules"
}
measure("allocate + plan (one sync)", {
    planner.plan(snapshot: snapshot, allocation: allocator.allocate(snapshot: snapshot, previous: first.addresses), liveNodes: live)
}) { "\($0.announcements.count) announcements" }
