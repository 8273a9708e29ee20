@testable import BallastCore
import BallastTestSupport
import Testing

/// Properties of allocation and planning over many random clusters.
@Suite struct PropertyTests {
    static let seeds: Range<UInt64> = 0..<300

    static func allocate(_ world: World, previous: [ObjectRef: [IPAddress]] = [:]) -> AllocationResult {
        Allocator(pools: world.pools).allocate(services: world.services, namespaces: world.namespaces, previous: previous)
    }

    // MARK: Allocation

    @Test func noAddressIsHeldTwiceUnlessSharingAllowsIt() {
        for seed in Self.seeds {
            let world = World.random(seed: seed)
            let result = Self.allocate(world)
            let services = Dictionary(uniqueKeysWithValues: world.services.map { ($0.ref, $0) })
            var holders: [IPAddress: [ObjectRef]] = [:]
            for (ref, assignment) in result.assignments {
                for address in assignment.addresses { holders[address, default: []].append(ref) }
                let service = services[ref]!
                let pool = world.pools.first { $0.name == assignment.pool }
                #expect(pool != nil, "seed \(seed): \(ref) got unknown pool \(assignment.pool)")
                #expect(assignment.addresses.allSatisfy { pool?.allows($0) == true }, "seed \(seed): \(ref) \(assignment)")
                let families = FamilyRequirement(service)
                #expect(Set(assignment.addresses.map(\.family)).count == assignment.addresses.count, "seed \(seed): \(ref)")
                #expect((families.minimum...families.maximum).contains(assignment.addresses.count), "seed \(seed): \(ref)")
                #expect(assignment.addresses.allSatisfy { families.families.contains($0.family) }, "seed \(seed): \(ref)")
            }
            for (address, refs) in holders where refs.count > 1 {
                let keys = refs.map { ShareKey(services[$0]!) }
                #expect(keys.allSatisfy { $0.sharingKey != nil && $0 == keys[0] }, "seed \(seed): \(address) held by \(refs)")
                var ports: Set<ServicePortKey> = []
                for ref in refs {
                    for port in services[ref]!.ports.map({ ServicePortKey(protocol: $0.protocol, port: $0.port) }) {
                        #expect(ports.insert(port).inserted, "seed \(seed): \(address) port \(port) collides among \(refs)")
                    }
                }
            }
            // Every handled LoadBalancer Service is accounted for exactly once.
            let handled = world.services.filter { $0.loadBalancerClass == nil }.map(\.ref)
            for ref in handled {
                #expect((result.assignments[ref] != nil) != (result.failures[ref] != nil), "seed \(seed): \(ref)")
            }
            let usage = Dictionary(grouping: result.usage, by: \.pool)
            for pool in world.pools {
                let held = Set(holders.keys.filter { a in result.assignments.values.contains { $0.pool == pool.name && $0.addresses.contains(a) } })
                #expect(usage[pool.name]?.reduce(0) { $0 + $1.inUse } == UInt64(held.count), "seed \(seed): usage of \(pool.name)")
            }
        }
    }

    @Test func allocationIsDeterministicAndIndependentOfInputOrder() {
        for seed in Self.seeds {
            let world = World.random(seed: seed)
            var rng = SplitMix64(seed: seed &+ 1)
            var shuffled = world
            shuffled.services.shuffle(using: &rng)
            shuffled.pools.shuffle(using: &rng)
            shuffled.pools = shuffled.pools.map { var p = $0; p.ranges.shuffle(using: &rng); return p }
            let first = Self.allocate(world)
            #expect(Self.allocate(world) == first, "seed \(seed)")
            #expect(Self.allocate(shuffled) == first, "seed \(seed)")
        }
    }

    @Test func reallocatingWithTheResultChangesNothing() {
        for seed in Self.seeds {
            let world = World.random(seed: seed)
            let first = Self.allocate(world)
            let again = Self.allocate(world, previous: first.addresses)
            #expect(again.assignments == first.assignments, "seed \(seed)")
            #expect(again.withdrawals.isEmpty, "seed \(seed): \(again.withdrawals)")
        }
    }

    /// Delete Services, add new ones, shrink, remove and rename pools: every
    /// surviving Service keeps every address that is still valid for it.
    @Test func stickinessSurvivesDeletionsAndPoolChanges() {
        for seed in Self.seeds {
            let world = World.random(seed: seed)
            let first = Self.allocate(world)
            var rng = SplitMix64(seed: seed ^ 0xdead_beef)
            var next = world
            next.services = world.services.filter { _ in rng.chance(0.7) }
                + World.random(seed: seed &+ 10_000).services.map { s in
                    var s = s
                    s.ref.name = "new-" + s.ref.name
                    return s
                }
            next.pools = world.pools.compactMap { pool in
                if rng.chance(0.15) { return nil }
                var pool = pool
                if rng.chance(0.2) { pool.name += "-renamed" }
                if rng.chance(0.3), pool.ranges.count > 1 { pool.ranges.remove(at: Int.random(in: 0..<pool.ranges.count, using: &rng)) }
                pool.ranges = pool.ranges.map { r in
                    rng.chance(0.3) && r.size > 2 ? AddressRange(first: r.first, last: r.first.advanced(by: r.size / 2)!)! : r
                }
                if rng.chance(0.1) { pool.avoidBuggyIPs.toggle() }
                if rng.chance(0.1) { pool.autoAssign.toggle() }
                return pool
            }
            let second = Self.allocate(next, previous: first.addresses)
            for service in next.services {
                guard let before = first.assignments[service.ref] else { continue }
                let request = try? AddressRequest(service)
                for address in before.addresses {
                    // Pools are disjoint, so at most one contains the address.
                    guard let pool = next.pools.first(where: { $0.contains(address) }), pool.allows(address),
                          PoolIndex(pool).rejection(of: service, namespaceLabels: next.namespaces[service.ref.namespace]?.labels ?? [:]) == nil,
                          request?.poolName.map({ $0 == pool.name }) ?? true
                    else { continue }
                    let kept = second.assignments[service.ref]?.addresses.contains(address) == true
                    // RequireDualStack releases what it kept when the other family cannot be replaced.
                    let excused = second.failures[service.ref] != nil && service.ipFamilyPolicy == .requireDualStack
                    #expect(kept || excused, "seed \(seed): \(service.ref) lost \(address): \(second.withdrawals[service.ref] ?? [])")
                }
            }
        }
    }

    // MARK: Planning

    @Test func everyNodeComputesTheSameAnnouncers() {
        for seed in Self.seeds.prefix(150) {
            let world = World.randomWithEndpoints(seed: seed)
            let snapshot = world.snapshot
            let configuration = Configuration(pools: world.pools)
            let allocation = Allocator(configuration: configuration).allocate(snapshot: snapshot)
            let names = Set(world.nodes.map(\.name)).union(world.live).sorted()
            let states = names.map {
                Planner(configuration: configuration, nodeName: $0).plan(snapshot: snapshot, allocation: allocation, liveNodes: world.live)
            }
            for state in states.dropFirst() {
                #expect(state.announcements == states[0].announcements, "seed \(seed): \(state.node) disagrees")
            }
            // Each announced address is held by exactly its announcer.
            for announcement in states.first?.announcements ?? [] {
                let holders = states.filter { $0.vips.contains(announcement.address) }.map(\.node)
                #expect(holders == [announcement.node], "seed \(seed): \(announcement.address) held by \(holders)")
            }
        }
    }

    @Test func theAnnouncerIsAlwaysEligible() {
        for seed in Self.seeds.prefix(150) {
            let world = World.randomWithEndpoints(seed: seed)
            let snapshot = world.snapshot
            let configuration = Configuration(pools: world.pools)
            let allocation = Allocator(configuration: configuration).allocate(snapshot: snapshot)
            let state = Planner(configuration: configuration, nodeName: "node-0")
                .plan(snapshot: snapshot, allocation: allocation, liveNodes: world.live)
            let nodes = snapshot.nodes
            for announcement in state.announcements {
                let name = announcement.node
                let node = nodes[name]
                #expect(world.live.contains(name), "seed \(seed): \(name) is not live")
                #expect(node?.ready ?? true, "seed \(seed): \(name) is not Ready")
                #expect(node?.labels[Node.excludeFromLoadBalancersLabel] == nil, "seed \(seed): \(name) is excluded")
                let pool = world.pools.first { $0.name == announcement.pool }!
                #expect(pool.nodeSelectors.isEmpty || pool.nodeSelectors.contains { $0.matches(node?.labels ?? [:]) },
                        "seed \(seed): \(name) not selected by \(pool.name)")
                // Some Service on the address has a ready endpoint (here, for Local: on the announcer).
                let family = announcement.address.family
                let serving = announcement.services.map { snapshot.services[$0]! }.filter { service in
                    ServiceBackends(service: service, slices: snapshot.slices(for: service.ref), trackNodes: false).hasReady(family)
                }
                #expect(!serving.isEmpty, "seed \(seed): \(announcement.address) announced without ready endpoints")
                let local = serving.filter { $0.externalTrafficPolicy == .local }
                if !local.isEmpty {
                    let hasLocal = local.contains { service in
                        ServiceBackends(service: service, slices: snapshot.slices(for: service.ref), trackNodes: true)
                            .readyNodes(family).contains(name)
                    }
                    #expect(hasLocal, "seed \(seed): \(name) announces Local \(announcement.address) without a local endpoint")
                }
            }
        }
    }

    @Test func theIPVSTableIsWellFormed() {
        for seed in Self.seeds.prefix(150) {
            let world = World.randomWithEndpoints(seed: seed)
            let snapshot = world.snapshot
            let configuration = Configuration(pools: world.pools)
            let allocation = Allocator(configuration: configuration).allocate(snapshot: snapshot)
            let state = Planner(configuration: configuration, nodeName: "node-1")
                .plan(snapshot: snapshot, allocation: allocation, liveNodes: world.live)
            #expect(state.ipvs.map(\.key) == state.ipvs.map(\.key).sorted(), "seed \(seed)")
            #expect(Set(state.ipvs.map(\.key)).count == state.ipvs.count, "seed \(seed)")
            var byKey: [VirtualServiceKey: IPVSVirtualService] = [:]
            for service in state.ipvs {
                byKey[service.key] = service
                #expect(service.destinations.allSatisfy { $0.address.family == service.key.family }, "seed \(seed)")
                #expect(Set(service.destinations.map(\.endpoint)).count == service.destinations.count, "seed \(seed)")
            }
            for rule in state.snat {
                let destinations = byKey[.address(rule.address, port: rule.port, protocol: rule.protocol)]?.destinations.map(\.address) ?? []
                #expect(Set(rule.destinations).isSubset(of: destinations), "seed \(seed): \(rule)")
            }
            for plan in state.services.values where plan.externalTrafficPolicy == .local {
                #expect(!state.snat.contains { rule in plan.addresses.contains(rule.address) }, "seed \(seed): SNAT for Local \(plan.ref)")
            }
        }
    }
}
