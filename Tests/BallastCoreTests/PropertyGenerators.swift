// Random but reproducible clusters for property tests. A failure message
// names the seed; the same seed rebuilds the same world.
@testable import BallastCore
import BallastTestSupport

/// A random cluster: disjoint pools, namespaces, Services, and (for planning) nodes and endpoints.
struct World {
    var pools: [AddressPool]
    var namespaces: [String: Namespace]
    var services: [Service]
    var nodes: [Node] = []
    var live: Set<String> = []
    var slices: [EndpointSlice] = []

    static let namespaceNames = ["alpha", "beta", "gamma"]
    static let portChoices = ["80", "443", "8080", "udp/53", "tcp/53"]

    var snapshot: ClusterSnapshot {
        ClusterSnapshot(services: Dictionary(uniqueKeysWithValues: services.map { ($0.ref, $0) }),
                        endpointSlices: Dictionary(uniqueKeysWithValues: slices.map { ($0.ref, $0) }),
                        nodes: Dictionary(uniqueKeysWithValues: nodes.map { ($0.name, $0) }), namespaces: namespaces)
    }

    /// Pool i owns 10.i.0.0/16 and fd00:i::/112, so pools never overlap; the ranges are small so
    /// exhaustion and sharing happen often.
    static func randomPool(_ i: Int, using rng: inout some RandomNumberGenerator) -> AddressPool {
        var ranges: [AddressRange] = []
        for _ in 0..<Int.random(in: 1...2, using: &rng) {
            let start = UInt32(Int.random(in: 0...3, using: &rng) * 64 + (rng.chance(0.3) ? 250 : 0))
            let base = UInt32(10 << 24 | i << 16) + start
            ranges.append(AddressRange(first: .v4(IPv4Address(base)), last: .v4(IPv4Address(base + UInt32(Int.random(in: 0...9, using: &rng)))))!)
        }
        if rng.chance(0.5) {
            let low = UInt64(Int.random(in: 0...3, using: &rng) * 16)
            let first = IPAddress.v6(IPv6Address(high: 0xfd00_0000_0000_0000 | UInt64(i) << 32, low: low))
            ranges.append(AddressRange(first: first, last: first.advanced(by: UInt64(Int.random(in: 0...5, using: &rng)))!)!)
        }
        var allocation: ServiceAllocation?
        if rng.chance(0.3) {
            allocation = ServiceAllocation(priority: rng.chance(0.5) ? Int.random(in: 1...3, using: &rng) : nil,
                                           namespaces: rng.subset(namespaceNames),
                                           namespaceSelectors: rng.chance(0.3) ? [LabelSelector(matchLabels: ["tier": "prod"])] : [],
                                           serviceSelectors: rng.chance(0.3) ? [LabelSelector(matchLabels: ["expose": "yes"])] : [])
        }
        return AddressPool(name: "pool-\(i)", ranges: ranges.shuffled(using: &rng), autoAssign: rng.chance(0.85),
                           avoidBuggyIPs: rng.chance(0.3), serviceAllocation: allocation,
                           interfaces: rng.chance(0.3) ? ["eth\(i)"] : nil,
                           nodeSelectors: rng.chance(0.2) ? [LabelSelector(matchLabels: ["zone": rng.pick(["a", "b"])])] : [])
    }

    static func random(seed: UInt64, maxServices: Int = 40) -> World {
        var rng = SplitMix64(seed: seed)
        let pools = (0..<Int.random(in: 1...4, using: &rng)).map { randomPool($0, using: &rng) }
        let namespaces = Dictionary(uniqueKeysWithValues: namespaceNames.map {
            ($0, Namespace(name: $0, labels: rng.chance(0.5) ? ["tier": "prod"] : [:]))
        })
        let poolAddresses = pools.flatMap { pool in pool.ranges.flatMap { r in (0..<min(r.size, 12)).compactMap { r.first.advanced(by: $0) } } }
        var services: [Service] = []
        for i in 0..<Int.random(in: 1...maxServices, using: &rng) {
            var annotations: [String: String] = [:]
            if rng.chance(0.4) { annotations[rng.pick(ServiceAnnotations.prefixes) + "/allow-shared-ip"] = rng.pick(["k1", "k2"]) }
            if rng.chance(0.1) { annotations["metallb.io/address-pool"] = rng.pick(pools).name }
            var requested: String?
            if rng.chance(0.15) {
                requested = rng.chance(0.9) ? rng.pick(poolAddresses).description : "192.0.2.1"
            }
            let policy: IPFamilyPolicy? = rng.pick([nil, .singleStack, .preferDualStack, .requireDualStack])
            let families: [AddressFamily] = rng.pick([[], [.ipv4], [.ipv6], [.ipv6, .ipv4], [.ipv4, .ipv6]])
            services.append(lb("\(rng.pick(namespaceNames))/svc-\(i)",
                               ports: Array(Set(rng.subset(portChoices, probability: 0.4))).sorted(),
                               annotations: annotations, labels: rng.chance(0.3) ? ["expose": "yes"] : [:],
                               selector: ["app": rng.pick(["web", "db"])], policy: rng.chance(0.3) ? .local : .cluster,
                               loadBalancerIP: requested,
                               loadBalancerClass: rng.chance(0.05) ? "example.com/lb" : nil,
                               families: policy == .singleStack ? Array(families.prefix(1)) : families, familyPolicy: policy))
        }
        return World(pools: pools, namespaces: namespaces, services: services)
    }

    /// Adds nodes, liveness and endpoints to a world.
    static func randomWithEndpoints(seed: UInt64) -> World {
        var world = random(seed: seed, maxServices: 25)
        var rng = SplitMix64(seed: seed ^ 0x5eed)
        let names = (0..<Int.random(in: 1...6, using: &rng)).map { "node-\($0)" }
        world.nodes = names.filter { _ in rng.chance(0.9) }.map { name in
            var labels = ["zone": rng.pick(["a", "b"])]
            if rng.chance(0.15) { labels[Node.excludeFromLoadBalancersLabel] = "" }
            return Node(name: name, labels: labels, ready: rng.chance(0.85))
        }
        world.live = Set(names.filter { _ in rng.chance(0.8) })
        for service in world.services {
            for family in AddressFamily.allCases where rng.chance(0.8) {
                for s in 0..<Int.random(in: 0...2, using: &rng) {
                    let endpoints = (0..<Int.random(in: 0...4, using: &rng)).map { e -> Endpoint in
                        let address: IPAddress = family == .ipv4 ? .v4(IPv4Address(0x0a64_0000 | UInt32(s << 8 | e)))
                            : .v6(IPv6Address(high: 0xfd99 << 48, low: UInt64(s << 8 | e)))
                        return Endpoint(address: address,
                                        conditions: EndpointConditions(ready: rng.chance(0.75), serving: rng.chance(0.5) ? true : nil,
                                                                       terminating: rng.chance(0.2)),
                                        nodeName: rng.chance(0.9) ? rng.pick(names + ["elsewhere"]) : nil)
                    }
                    world.slices.append(EndpointSlice(ref: ObjectRef(namespace: service.ref.namespace, name: "\(service.ref.name)-\(family)-\(s)"),
                                                      serviceName: service.ref.name, addressType: family, endpoints: endpoints,
                                                      ports: rng.chance(0.7) ? [] : [EndpointPort(port: 9000)]))
                }
            }
        }
        return world
    }
}
