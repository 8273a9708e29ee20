// From "these Services have these addresses" to what this node should
// program: the IPVS table, the VIPs to hold, the SNAT rules and who announces
// each address. A pure function: every node runs it on the same inputs and,
// without talking to the others, agrees on the announcers.
//
// Choices, and why:
// - Only LoadBalancer addresses are programmed, never clusterIPs or
//   externalIPs: kube-proxy owns those in a cluster, and two programs editing
//   the same IPVS services would undo each other. internalTrafficPolicy
//   therefore plays no part here.
// - Every node programs the IPVS services of every address, whoever announces
//   it, so a node taking over an address only has to add the VIP and announce:
//   the table is already in place, and failover costs no IPVS changes.
// - The VIP link holds only the addresses this node announces. The link being
//   NOARP is not enough to keep other nodes quiet: with Linux's default
//   arp_ignore=0 a node answers ARP on every interface for any local address,
//   and with arp_announce=0 it may use the VIP as the sender of its own ARP
//   requests; either would steal the address from the announcer (kube-proxy's
//   IPVS mode holds every address on every node and therefore needs
//   "strictARP"). Holding it only where it is announced is correct whatever the
//   sysctls. The cost: traffic that still reaches a former announcer through a
//   stale neighbour cache is not served there; the new announcer's gratuitous
//   ARP / unsolicited NA replaces those entries right away.

public struct Planner: Sendable {
    public var configuration: Configuration
    /// The node this plan is for.
    public var nodeName: String

    public init(configuration: Configuration, nodeName: String) {
        self.configuration = configuration
        self.nodeName = nodeName
    }

    /// - Parameters:
    ///   - allocation: the allocator's result for the same snapshot.
    ///   - liveNodes: nodes the daemon currently sees alive (its membership view),
    ///     independent of each Node's Ready condition; both are required to announce.
    public func plan(snapshot: ClusterSnapshot, allocation: AllocationResult, liveNodes: Set<String>) -> DesiredState {
        // Sorting names, not Services: a Service is a large value to move around.
        let services = snapshot.services.compactMap { $0.value.type == .loadBalancer ? $0.key : nil }.sorted()
            .map { snapshot.services[$0]! }
        // One pass over all slices; looking them up per Service would be quadratic.
        var slices: [ObjectRef: [EndpointSlice]] = [:]
        for slice in snapshot.endpointSlices.values { slices[slice.serviceRef, default: []].append(slice) }
        var run = PlanRun(planner: self, services: services, slices: slices, nodes: snapshot.nodes,
                          allocation: allocation, liveNodes: liveNodes)
        run.plan()
        run.state.ipvs.sort { $0.key < $1.key }
        run.state.snat.sort()
        run.state.vips = run.state.announcements.filter { $0.node == nodeName }.map(\.address)
        return run.state
    }

    /// The plan of `snapshot` made from `previous` by planning again only the
    /// Services in `changed` and those sharing an address with them (an
    /// address's announcement, and which Service holds a port on it, depend
    /// on all its users): equal to `plan(snapshot:allocation:liveNodes:)`.
    ///
    /// - Parameters:
    ///   - previous: this planner's plan of the last snapshot, with the same
    ///     Nodes, live nodes and configuration.
    ///   - changed: every Service whose object, slices or allocation
    ///     (addresses, pool, failure, withdrawals) differ from what `previous`
    ///     was planned from; removed ones included.
    ///   - sharing: the shared addresses of `allocation`.
    public func replan(_ previous: DesiredState, changed: Set<ObjectRef>, snapshot: ClusterSnapshot,
                       allocation: AllocationResult, sharing: AddressSharing, liveNodes: Set<String>) -> DesiredState {
        // Everything whose plan reads a changed Service, through shared addresses, transitively.
        var dirty = changed
        var queue = Array(changed)
        while let ref = queue.popLast() {
            let addresses = (previous.services[ref]?.addresses ?? []) + (allocation.assignments[ref]?.addresses ?? [])
            for address in addresses {
                for user in sharing.users(of: address) where dirty.insert(user).inserted { queue.append(user) }
            }
        }
        let services = dirty.compactMap { ref in snapshot.services[ref].flatMap { $0.type == .loadBalancer ? $0 : nil } }
            .sorted { $0.ref < $1.ref }
        var slices: [ObjectRef: [EndpointSlice]] = [:]
        if !services.isEmpty {
            // A slice lives in its Service's namespace: most slices are passed
            // over on their key, without copying them.
            let namespaces = Set(services.map(\.ref.namespace))
            let all = snapshot.endpointSlices
            for index in all.indices where namespaces.contains(all.keys[index].namespace) {
                let slice = all.values[index]
                let owner = slice.serviceRef
                if dirty.contains(owner) { slices[owner, default: []].append(slice) }
            }
        }
        var run = PlanRun(planner: self, services: services, slices: slices, nodes: snapshot.nodes,
                          allocation: allocation, liveNodes: liveNodes)
        run.plan()

        // Out with the dirty Services' old parts, in with the new.
        var state = previous
        var oldKeys: Set<VirtualServiceKey> = []
        var oldAddresses: Set<IPAddress> = []
        for ref in dirty {
            guard let old = state.services.removeValue(forKey: ref) else { continue }
            oldKeys.formUnion(old.virtualServices)
            oldAddresses.formUnion(old.addresses)
        }
        for plan in run.plans { state.services[plan.ref] = plan }
        state.ipvs.patchSorted(removing: oldKeys, inserting: run.state.ipvs, by: \.key)
        let oldMatches = Set(oldKeys.compactMap { key -> SNATMatch? in
            guard case .address(let address, let port, let proto) = key else { return nil }
            return SNATMatch(address: address, protocol: proto, port: port)
        })
        state.snat.patchSorted(removing: oldMatches, inserting: run.state.snat) {
            SNATMatch(address: $0.address, protocol: $0.protocol, port: $0.port)
        }
        state.announcements.patchSorted(removing: oldAddresses, inserting: run.state.announcements, by: \.address)
        state.vips.patchSorted(removing: oldAddresses,
                               inserting: run.state.announcements.filter { $0.node == nodeName }.map(\.address)) { $0 }
        state.pools = allocation.usage
        return state
    }
}

/// Which Services hold each address of an allocation: the planner's
/// cross-Service index (an address's announcement, and which Service holds a
/// port on it, depend on all its users).
public struct AddressSharing: Sendable {
    /// One user needs no array: most addresses have one.
    private enum Users: Sendable {
        case one(ObjectRef)
        case many([ObjectRef])
    }

    private var users: [IPAddress: Users] = [:]

    public init(_ allocation: AllocationResult) {
        users.reserveCapacity(allocation.assignments.count)
        for (ref, assignment) in allocation.assignments {
            for address in assignment.addresses {
                switch users[address] {
                case nil: users[address] = .one(ref)
                case .one(let first)?: users[address] = .many([first, ref])
                case .many(let all)?: users[address] = .many(all + [ref])
                }
            }
        }
    }

    /// The Services holding `address`.
    public func users(of address: IPAddress) -> [ObjectRef] {
        switch users[address] {
        case nil: []
        case .one(let ref)?: [ref]
        case .many(let all)?: all
        }
    }
}

extension Array {
    /// Removes the elements whose key is in `keys` and inserts `additions`,
    /// keeping an array sorted by unique keys sorted.
    mutating func patchSorted<Key: Comparable & Hashable>(removing keys: Set<Key>, inserting additions: [Element],
                                                         by key: (Element) -> Key) {
        func lowerBound(_ k: Key) -> Int {
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) / 2
                if key(self[middle]) < k { low = middle + 1 } else { high = middle }
            }
            return low
        }
        // Binary search for a handful of changes; one pass for many.
        guard keys.count + additions.count <= 32 else {
            if !keys.isEmpty { removeAll { keys.contains(key($0)) } }
            append(contentsOf: additions)
            sort { key($0) < key($1) }
            return
        }
        for k in keys {
            let index = lowerBound(k)
            if index < count && key(self[index]) == k { remove(at: index) }
        }
        for element in additions { insert(element, at: lowerBound(key(element))) }
    }
}

private struct PlanRun {
    let nodeName: String
    let configuration: Configuration
    let allocation: AllocationResult
    let nodes: NodeTable
    let pools: [String: AddressPool]
    /// LoadBalancer Services sorted by name (all, or those planned again);
    /// per-Service state below shares their indices.
    let services: [Service]
    let slices: [ObjectRef: [EndpointSlice]]
    var backends: [ServiceBackends] = []
    var plans: [ServicePlan] = []
    var state: DesiredState
    private var eligibleByPool: [String: [NodeTable.Candidate]] = [:]
    /// Which Service each virtual service was programmed for.
    private var owners: [VirtualServiceKey: ObjectRef] = [:]

    init(planner: Planner, services: [Service], slices: [ObjectRef: [EndpointSlice]], nodes: [String: Node],
         allocation: AllocationResult, liveNodes: Set<String>) {
        nodeName = planner.nodeName
        configuration = planner.configuration
        self.allocation = allocation
        self.nodes = NodeTable(nodes: nodes, live: liveNodes)
        pools = Dictionary(planner.configuration.pools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.services = services
        self.slices = slices
        state = DesiredState(node: planner.nodeName, pools: allocation.usage)
    }

    mutating func plan() {
        // A Service's backends and the start of its plan depend on it and its
        // slices alone: worked out on all cores (at start the daemon plans
        // 10,000 Services while the other cores idle). Announcing an address
        // and owning a port cross Services, so they follow in order.
        let (services, slices, allocation) = (services, slices, allocation)
        let alone = concurrentMap(Array(services.indices)) { index in
            Self.planAlone(services[index], slices: slices, allocation: allocation)
        }
        var users: [IPAddress: [Int]] = [:]
        backends.reserveCapacity(services.count)
        plans.reserveCapacity(services.count)
        for (index, (found, plan)) in alone.enumerated() {
            for address in plan.addresses { users[address, default: []].append(index) }
            backends.append(found)
            plans.append(plan)
        }
        for (address, users) in users.sorted(by: { $0.key < $1.key }) {
            announce(address, usedBy: users)
        }
        for index in services.indices where !plans[index].addresses.isEmpty {
            program(index)
        }
        state.services = Dictionary(uniqueKeysWithValues: plans.map { ($0.ref, $0) })
    }

    /// A Service's backends, and its plan as far as it depends on the
    /// Service alone: addresses (only when it has an assignment to use),
    /// counts, and the reasons that concern it alone.
    private static func planAlone(_ service: Service, slices: [ObjectRef: [EndpointSlice]],
                                  allocation: AllocationResult) -> (ServiceBackends, ServicePlan) {
        let ref = service.ref
        let serviceSlices = slices[ref]?.sorted { $0.ref < $1.ref } ?? []
        let found = ServiceBackends(service: service, slices: serviceSlices,
                                    trackNodes: service.externalTrafficPolicy == .local)
        var plan = ServicePlan(ref: ref, externalTrafficPolicy: service.externalTrafficPolicy, endpoints: found.counts)
        if let why = allocation.ignored[ref] {
            plan.reasons = ["ignored: \(why)"]
        } else if let assignment = allocation.assignments[ref] {
            plan.addresses = assignment.addresses
            plan.pool = assignment.pool
            if service.ports.isEmpty { plan.reasons.append("the Service has no ports") }
            if serviceSlices.isEmpty { plan.reasons.append("no EndpointSlices for this Service") }
            plan.reasons += found.problems
        } else {
            plan.reasons = ["no address: \(allocation.failures[ref]?.description ?? "not allocated yet")"]
        }
        plan.withdrawn = allocation.withdrawals[ref] ?? []
        return (found, plan)
    }

    // MARK: Announcement

    private mutating func eligible(poolName: String) -> [NodeTable.Candidate] {
        if let cached = eligibleByPool[poolName] { return cached }
        let list = nodes.eligible(for: pools[poolName])
        eligibleByPool[poolName] = list
        return list
    }

    private func isLocal(_ index: Int) -> Bool { services[index].externalTrafficPolicy == .local }

    /// Picks the one announcer of `address`. Eligible: live, Ready, not excluded
    /// by label, selected by the pool's nodeSelectors, and for Local traffic
    /// policy running a ready endpoint of the Service (else traffic would be
    /// dropped). A shared address needs one announcer for all its Services, so
    /// the conditions of every Service with ready endpoints are intersected.
    private mutating func announce(_ address: IPAddress, usedBy users: [Int]) {
        guard let poolName = plans[users[0]].pool else { return }
        let family = address.family
        let serving = users.filter { backends[$0].hasReady(family) }
        guard !serving.isEmpty else {
            for user in users { plans[user].reasons.append("\(address) is not announced: no ready endpoints") }
            return
        }
        for user in users where !serving.contains(user) {
            plans[user].reasons.append("no ready endpoints for \(address) (announced for the Services sharing it)")
        }
        let base = eligible(poolName: poolName)
        let localNodes = serving.filter(isLocal).map { backends[$0].readyNodes(family) }
        var candidates = base
        if !localNodes.isEmpty {
            candidates = base.filter { node in localNodes.allSatisfy { $0.contains(node.name) } }
            if candidates.isEmpty {
                // Local Services sharing an address select the same pods, so this only
                // happens while readiness differs between them; any of their nodes beats none.
                candidates = base.filter { node in localNodes.contains { $0.contains(node.name) } }
            }
        }
        guard let announcer = NodeTable.announcer(of: address, among: candidates) else {
            let why = base.isEmpty
                ? "no eligible node (\(nodes.ineligibility(for: pools[poolName], poolName: poolName)))"
                : "externalTrafficPolicy is Local and no eligible node has a ready local endpoint (endpoints run on "
                    + NodeTable.names(localNodes.reduce(into: Set<String>()) { $0.formUnion($1) }.sorted()) + ")"
            for user in users { plans[user].reasons.append("\(address) is not announced: \(why)") }
            return
        }
        state.announcements.append(Announcement(address: address, node: announcer, pool: poolName,
                                                interfaces: pools[poolName]?.interfaces, services: users.map { services[$0].ref }))
        for user in users {
            plans[user].announcers[address] = announcer
            if isLocal(user) && serving.contains(user) && !backends[user].readyNodes(family).contains(announcer) {
                plans[user].reasons.append(
                    "\(address) is announced by \(announcer) for the Services sharing it, but \(announcer) has no ready local endpoint of this Service")
            }
        }
    }

    // MARK: IPVS and SNAT

    /// One virtual service per address × port. Local traffic policy forwards
    /// only to this node's endpoints and keeps the client address (no SNAT);
    /// Cluster forwards to all and masquerades towards other nodes' endpoints,
    /// whose replies would otherwise bypass this node and IPVS.
    private mutating func program(_ index: Int) {
        let ref = services[index].ref
        let affinity = services[index].sessionAffinity
        let found = backends[index]
        let local = services[index].externalTrafficPolicy == .local
        var plan = plans[index]
        for address in plan.addresses {
            let family = address.family
            if local && found.hasReady(family) && !found.readyNodes(family).contains(nodeName) {
                let announced = plan.announcers[address].map { "; \(address) is announced by \($0)" } ?? ""
                plan.reasons.append("externalTrafficPolicy is Local and node \(nodeName) has no ready local endpoint\(announced)")
            }
            var persistence: IPVSPersistence?
            if case .clientIP(let timeout) = affinity {
                persistence = IPVSPersistence(timeout: timeout, netmaskPrefix: family.bitWidth)
            }
            for (portIndex, port) in found.ports.enumerated() {
                let key = VirtualServiceKey.address(address, port: port.port, protocol: port.protocol)
                // The allocator never lets shared addresses collide; an allocation
                // from elsewhere might, and the kernel holds one service per key.
                if let owner = owners[key] {
                    plan.reasons.append("\(key) is also a port of \(owner); not programmed for this Service")
                    continue
                }
                owners[key] = ref
                var destinations: [IPVSDestination] = []
                var remote: [IPAddress] = []
                for backend in found.backends(family, port: portIndex) where !local || backend.node == nodeName {
                    destinations.append(IPVSDestination(address: backend.endpoint.address, port: backend.endpoint.port,
                                                        weight: backend.ready ? 1 : 0))
                    if !local && backend.node != nodeName { remote.append(backend.endpoint.address) }
                }
                // An endpoint listed twice (slices may overlap while they are rewritten)
                // becomes one destination, serving if either listing is.
                destinations.sort { ($0.endpoint, -$0.weight) < ($1.endpoint, -$1.weight) }
                var unique: [IPVSDestination] = []
                unique.reserveCapacity(destinations.count)
                for destination in destinations where unique.last?.endpoint != destination.endpoint {
                    unique.append(destination)
                }
                destinations = unique
                state.ipvs.append(IPVSVirtualService(key: key, scheduler: configuration.ipvs.scheduler,
                                                     persistence: persistence, destinations: destinations))
                plan.virtualServices.append(key)
                for destination in destinations {
                    if destination.weight > 0 { plan.destinations += 1 } else { plan.drainingDestinations += 1 }
                }
                if !remote.isEmpty {
                    state.snat.append(SNATRule(address: address, port: port.port, protocol: port.protocol,
                                               destinations: remote.sortedUnique()))
                }
            }
        }
        plan.virtualServices.sort()
        plans[index] = plan
    }
}
