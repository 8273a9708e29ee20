// Planner.replan must give exactly what Planner.plan gives, whatever changed:
// random worlds, random edits of Services and slices, one step after another,
// the incremental plan chained from the previous incremental plan.
@testable import BallastCore
import BallastTestSupport
import Testing

@Suite struct IncrementalPlanTests {
    /// One random edit of the world; returns nothing, the world is changed in place.
    static func edit(_ world: inout World, step: Int, seed: UInt64, using rng: inout SplitMix64) {
        let refs = world.services.map(\.ref)
        switch Int.random(in: 0..<10, using: &rng) {
        case 0...2 where !world.slices.isEmpty:
            // An endpoint becomes ready or unready, or terminates.
            let s = Int.random(in: 0..<world.slices.count, using: &rng)
            guard !world.slices[s].endpoints.isEmpty else { return }
            let e = Int.random(in: 0..<world.slices[s].endpoints.count, using: &rng)
            world.slices[s].endpoints[e].conditions = EndpointConditions(
                ready: rng.chance(0.5), serving: rng.chance(0.5) ? true : nil, terminating: rng.chance(0.3))
        case 3 where !world.slices.isEmpty:
            // An endpoint goes, or one more comes (possibly on another node).
            let s = Int.random(in: 0..<world.slices.count, using: &rng)
            if rng.chance(0.5), !world.slices[s].endpoints.isEmpty {
                world.slices[s].endpoints.remove(at: Int.random(in: 0..<world.slices[s].endpoints.count, using: &rng))
            } else {
                let family = world.slices[s].addressType
                let n = UInt32(step & 0xff)
                let address: IPAddress = family == .ipv4 ? .v4(IPv4Address(0x0a65_0000 | n))
                    : .v6(IPv6Address(high: 0xfd98 << 48, low: UInt64(n)))
                world.slices[s].endpoints.append(Endpoint(
                    address: address, conditions: EndpointConditions(ready: rng.chance(0.8)),
                    nodeName: rng.pick(world.nodes.map(\.name) + ["elsewhere"])))
            }
        case 4 where !world.slices.isEmpty:
            world.slices.remove(at: Int.random(in: 0..<world.slices.count, using: &rng))
        case 5 where !refs.isEmpty:
            // A new slice for some Service (or one that names no Service).
            let service = rng.chance(0.9) ? rng.pick(refs) : ObjectRef(namespace: "alpha", name: "nobody")
            let family: AddressFamily = rng.chance(0.7) ? .ipv4 : .ipv6
            let endpoints = (0..<Int.random(in: 0...3, using: &rng)).map { e -> Endpoint in
                let address: IPAddress = family == .ipv4 ? .v4(IPv4Address(0x0a66_0000 | UInt32(step << 4 | e)))
                    : .v6(IPv6Address(high: 0xfd97 << 48, low: UInt64(step << 4 | e)))
                return Endpoint(address: address, conditions: EndpointConditions(ready: rng.chance(0.8)),
                                nodeName: rng.pick(world.nodes.map(\.name) + ["elsewhere"]))
            }
            world.slices.append(EndpointSlice(ref: ObjectRef(namespace: service.namespace, name: "\(service.name)-new-\(step)"),
                                              serviceName: service.name, addressType: family, endpoints: endpoints))
        case 6 where !world.services.isEmpty:
            world.services.remove(at: Int.random(in: 0..<world.services.count, using: &rng))
        case 7:
            // A Service comes (one of another world, under a new name).
            var other = World.random(seed: seed &+ UInt64(step) &* 7919).services
            guard !other.isEmpty else { return }
            var service = other.removeFirst()
            service.ref = ObjectRef(namespace: service.ref.namespace, name: "added-\(step)")
            world.services.append(service)
        case 8 where !world.services.isEmpty:
            // A Service changes: traffic policy, ports, sharing key.
            let i = Int.random(in: 0..<world.services.count, using: &rng)
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: world.services[i].externalTrafficPolicy = world.services[i].externalTrafficPolicy == .local ? .cluster : .local
            case 1: world.services[i].ports = [ServicePort(protocol: rng.chance(0.8) ? .tcp : .udp,
                                                           port: rng.pick([80, 443, 53, 8080]))]
            default: world.services[i].annotations["metallb.io/allow-shared-ip"] = rng.pick(["k1", "k2", "k3"])
            }
        default:
            // A Node's readiness flips (a full sync in the daemon; here everything is marked changed).
            guard !world.nodes.isEmpty else { return }
            let n = Int.random(in: 0..<world.nodes.count, using: &rng)
            world.nodes[n].ready.toggle()
        }
    }

    /// The Services whose object or slices differ between two snapshots; nil when Nodes differ.
    static func changes(from old: ClusterSnapshot, to new: ClusterSnapshot) -> Set<ObjectRef>? {
        guard old.nodes == new.nodes, old.namespaces == new.namespaces else { return nil }
        var changed: Set<ObjectRef> = []
        for ref in Set(old.services.keys).union(new.services.keys) where old.services[ref] != new.services[ref] {
            changed.insert(ref)
        }
        for ref in Set(old.endpointSlices.keys).union(new.endpointSlices.keys)
        where old.endpointSlices[ref] != new.endpointSlices[ref] {
            if let slice = old.endpointSlices[ref] { changed.insert(slice.serviceRef) }
            if let slice = new.endpointSlices[ref] { changed.insert(slice.serviceRef) }
        }
        return changed
    }

    /// Steps through random edits; `allocate` gives each step's allocation.
    static func walk(seed: UInt64, steps: Int,
                     allocate: (ClusterSnapshot, AllocationResult?, [AddressPool], inout SplitMix64) -> AllocationResult) {
        var world = World.randomWithEndpoints(seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xed17)
        let node = rng.pick(world.nodes.map(\.name) + ["node-0"])
        let planner = Planner(configuration: Configuration(pools: world.pools), nodeName: node)
        var snapshot = world.snapshot
        var allocation = allocate(snapshot, nil, world.pools, &rng)
        var plan = planner.plan(snapshot: snapshot, allocation: allocation, liveNodes: world.live)
        for step in 0..<steps {
            edit(&world, step: step, seed: seed, using: &rng)
            let next = world.snapshot
            let nextAllocation = allocate(next, allocation, world.pools, &rng)
            let full = planner.plan(snapshot: next, allocation: nextAllocation, liveNodes: world.live)
            if var changed = changes(from: snapshot, to: next) {
                changed.formUnion(nextAllocation.servicesDiffering(from: allocation))
                let patched = planner.replan(plan, changed: changed, snapshot: next, allocation: nextAllocation,
                                             sharing: AddressSharing(nextAllocation), liveNodes: world.live)
                #expect(patched == full, "seed \(seed), step \(step): incremental plan differs from the full plan")
                if patched != full { return }
            }
            (snapshot, allocation, plan) = (next, nextAllocation, full)
        }
    }

    @Test(arguments: 0..<150)
    func replanEqualsPlanWithTheAllocator(seed: UInt64) {
        Self.walk(seed: seed, steps: 25) { snapshot, previous, pools, _ in
            Allocator(configuration: Configuration(pools: pools))
                .allocate(snapshot: snapshot, previous: previous?.addresses ?? [:])
        }
    }

    /// Allocations from elsewhere may give one address to Services whose
    /// ports collide: the planner programs the key for the first only.
    @Test(arguments: 0..<150)
    func replanEqualsPlanWithCollidingAllocations(seed: UInt64) {
        Self.walk(seed: seed, steps: 25) { snapshot, previous, _, rng in
            let pool = "pool-0"
            let addresses = (1...3).map { IPAddress.v4(IPv4Address(0x0a00_0000 | UInt32($0))) }
            var result = AllocationResult()
            for (ref, service) in snapshot.services where service.type == .loadBalancer {
                // Mostly sticky, as allocation is; sometimes moved.
                if let kept = previous?.assignments[ref], rng.chance(0.8) {
                    result.assignments[ref] = kept
                } else if rng.chance(0.9) {
                    result.assignments[ref] = Assignment(pool: pool, addresses: [rng.pick(addresses)])
                } else {
                    result.ignored[ref] = "ignored for the test"
                }
            }
            return result
        }
    }
}
