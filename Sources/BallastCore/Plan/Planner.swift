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
//   it. IPVS also balances traffic this node itself sends to the address (its
//   LOCAL_OUT hook), and a node taking over an address only has to add the
//   VIP and announce: the table is already in place.
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
        var run = PlanRun(planner: self, snapshot: snapshot, allocation: allocation, liveNodes: liveNodes)
        run.plan()
        return run.state
    }
}

private struct PlanRun {
    let nodeName: String
    let configuration: Configuration
    let allocation: AllocationResult
    let nodes: NodeTable
    let pools: [String: AddressPool]
    /// LoadBalancer Services by name.
    let services: [Service]
    let slices: [ObjectRef: [EndpointSlice]]
    var backends: [ObjectRef: ServiceBackends] = [:]
    var plans: [ObjectRef: ServicePlan] = [:]
    var state: DesiredState
    private var eligibleByPool: [String: [NodeTable.Entry]] = [:]
    /// Which Service each virtual service was programmed for.
    private var owners: [VirtualServiceKey: ObjectRef] = [:]

    init(planner: Planner, snapshot: ClusterSnapshot, allocation: AllocationResult, liveNodes: Set<String>) {
        nodeName = planner.nodeName
        configuration = planner.configuration
        self.allocation = allocation
        nodes = NodeTable(nodes: snapshot.nodes, live: liveNodes)
        pools = Dictionary(planner.configuration.pools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        services = snapshot.services.values.filter { $0.type == .loadBalancer }.sorted { $0.ref < $1.ref }
        // One pass over all slices; looking them up per Service would be quadratic.
        slices = Dictionary(grouping: snapshot.endpointSlices.values, by: \.serviceRef).mapValues { $0.sorted { $0.ref < $1.ref } }
        state = DesiredState(node: planner.nodeName, pools: allocation.usage)
    }

    mutating func plan() {
        var users: [IPAddress: [ObjectRef]] = [:]
        for service in services {
            let ref = service.ref
            let found = ServiceBackends(service: service, slices: slices[ref] ?? [])
            backends[ref] = found
            var plan = ServicePlan(ref: ref, externalTrafficPolicy: service.externalTrafficPolicy, endpoints: found.counts)
            if let why = allocation.ignored[ref] {
                plan.reasons = ["ignored: \(why)"]
            } else if let assignment = allocation.assignments[ref] {
                plan.addresses = assignment.addresses
                plan.pool = assignment.pool
                if service.ports.isEmpty { plan.reasons.append("the Service has no ports") }
                if slices[ref] == nil { plan.reasons.append("no EndpointSlices for this Service") }
                plan.reasons += found.problems
                for address in assignment.addresses { users[address, default: []].append(ref) }
            } else {
                plan.reasons = ["no address: \(allocation.failures[ref]?.description ?? "not allocated yet")"]
            }
            plan.withdrawn = allocation.withdrawals[ref] ?? []
            plans[ref] = plan
        }
        for (address, refs) in users.sorted(by: { $0.key < $1.key }) {
            announce(address, usedBy: refs)
        }
        for service in services where allocation.ignored[service.ref] == nil {
            if let assignment = allocation.assignments[service.ref] { program(service, assignment) }
        }
        state.ipvs.sort { $0.key < $1.key }
        state.snat.sort()
        state.vips = state.announcements.filter { $0.node == nodeName }.map(\.address)
        state.services = plans
    }

    // MARK: Announcement

    private mutating func eligible(poolName: String) -> [NodeTable.Entry] {
        if let cached = eligibleByPool[poolName] { return cached }
        let list = nodes.eligible(for: pools[poolName])
        eligibleByPool[poolName] = list
        return list
    }

    private func isLocal(_ ref: ObjectRef) -> Bool { plans[ref]?.externalTrafficPolicy == .local }

    /// Picks the one announcer of `address`. Eligible: live, Ready, not excluded
    /// by label, selected by the pool's nodeSelectors, and for Local traffic
    /// policy running a ready endpoint of the Service (else traffic would be
    /// dropped). A shared address needs one announcer for all its Services, so
    /// the conditions of every Service with ready endpoints are intersected.
    private mutating func announce(_ address: IPAddress, usedBy refs: [ObjectRef]) {
        guard let poolName = plans[refs[0]]?.pool else { return }
        let family = address.family
        let serving = refs.filter { backends[$0]?.readyFamilies.contains(family) == true }
        guard !serving.isEmpty else {
            for ref in refs { plans[ref]?.reasons.append("\(address) is not announced: no ready endpoints") }
            return
        }
        for ref in refs where !serving.contains(ref) {
            plans[ref]?.reasons.append("no ready endpoints for \(address) (announced for the Services sharing it)")
        }
        let base = eligible(poolName: poolName)
        let localNodes = serving.filter(isLocal).map { backends[$0]?.readyNodes[family] ?? [] }
        var candidates = base.filter { entry in localNodes.allSatisfy { $0.contains(entry.name) } }
        if candidates.isEmpty {
            // Local Services sharing an address select the same pods, so this only
            // happens while readiness differs between them; any of their nodes beats none.
            candidates = base.filter { entry in localNodes.contains { $0.contains(entry.name) } }
        }
        guard let announcer = NodeTable.announcer(of: address, among: candidates) else {
            let why = base.isEmpty
                ? "no eligible node (\(nodes.ineligibility(for: pools[poolName], poolName: poolName)))"
                : "externalTrafficPolicy is Local and no eligible node has a ready local endpoint (endpoints run on "
                    + NodeTable.names(localNodes.reduce(into: Set<String>()) { $0.formUnion($1) }.sorted()) + ")"
            for ref in refs { plans[ref]?.reasons.append("\(address) is not announced: \(why)") }
            return
        }
        state.announcements.append(Announcement(address: address, node: announcer, pool: poolName,
                                                interfaces: pools[poolName]?.interfaces, services: refs))
        for ref in refs {
            plans[ref]?.announcers[address] = announcer
            if isLocal(ref) && serving.contains(ref) && backends[ref]?.readyNodes[family]?.contains(announcer) != true {
                plans[ref]?.reasons.append(
                    "\(address) is announced by \(announcer) for the Services sharing it, but \(announcer) has no ready local endpoint of this Service")
            }
        }
    }

    // MARK: IPVS and SNAT

    /// One virtual service per address × port. Local traffic policy forwards
    /// only to this node's endpoints and keeps the client address (no SNAT);
    /// Cluster forwards to all and masquerades towards other nodes' endpoints,
    /// whose replies would otherwise bypass this node and IPVS.
    private mutating func program(_ service: Service, _ assignment: Assignment) {
        let ref = service.ref
        guard let found = backends[ref] else { return }
        let local = service.externalTrafficPolicy == .local
        let ports = service.ports.map { ServicePortKey(protocol: $0.protocol, port: $0.port) }.uniqued().sorted()
        var plan = plans[ref] ?? ServicePlan(ref: ref)
        for address in assignment.addresses {
            if local && found.readyFamilies.contains(address.family)
                && found.readyNodes[address.family]?.contains(nodeName) != true {
                let announced = plan.announcers[address].map { "; \(address) is announced by \($0)" } ?? ""
                plan.reasons.append("externalTrafficPolicy is Local and node \(nodeName) has no ready local endpoint\(announced)")
            }
            for port in ports {
                let key = VirtualServiceKey.address(address, port: port.port, protocol: port.protocol)
                // The allocator never lets shared addresses collide; an allocation
                // from elsewhere might, and the kernel holds one service per key.
                if let owner = owners[key] {
                    plan.reasons.append("\(key) is also a port of \(owner); not programmed for this Service")
                    continue
                }
                owners[key] = ref
                var candidates = found.backends(address.family, port)
                if local { candidates = candidates.filter { $0.node == nodeName } }
                var weights: [IPVSEndpoint: Int32] = [:]
                var remote: Set<IPAddress> = []
                for backend in candidates {
                    weights[backend.endpoint] = max(weights[backend.endpoint] ?? 0, backend.ready ? 1 : 0)
                    if !local && backend.node != nodeName { remote.insert(backend.endpoint.address) }
                }
                let destinations = weights.map { IPVSDestination(address: $0.key.address, port: $0.key.port, weight: $0.value) }
                    .sorted()
                var persistence: IPVSPersistence?
                if case .clientIP(let timeout) = service.sessionAffinity {
                    persistence = IPVSPersistence(timeout: timeout, netmaskPrefix: address.family.bitWidth)
                }
                state.ipvs.append(IPVSVirtualService(key: key, scheduler: configuration.ipvs.scheduler,
                                                     persistence: persistence, destinations: destinations))
                plan.virtualServices.append(key)
                plan.destinations += destinations.filter { $0.weight > 0 }.count
                plan.drainingDestinations += destinations.filter { $0.weight == 0 }.count
                if !remote.isEmpty {
                    state.snat.append(SNATRule(address: address, port: port.port, protocol: port.protocol,
                                               destinations: Array(remote)))
                }
            }
        }
        plan.virtualServices.sort()
        plans[ref] = plan
    }
}
