// Assigns LoadBalancer addresses from pools: MetalLB's semantics (requested
// addresses, pool annotation, serviceAllocation priorities, autoAssign,
// allow-shared-ip, dual-stack policies) plus stickiness, which MetalLB lacks
// across controller restarts.
//
// Stickiness: the addresses each Service held before are an input (the daemon
// persists every result; status.loadBalancer.ingress stands in when it has
// nothing). Each run first re-grants every previous address that is still
// valid, and only then serves new requests, in a stable order. So restarts,
// configuration reloads and deletions of other Services never move an address;
// a shrunk or removed pool withdraws exactly the addresses it no longer covers;
// and a Service asking for an address someone else holds is told who holds it
// and gets it on the first run after it is freed.
//
// The whole computation is a pure function of its inputs: same inputs, same
// result, whatever order dictionaries and the configuration list things in.

public struct Allocator: Sendable {
    public var pools: [AddressPool]
    /// Services with another spec.loadBalancerClass belong to another implementation.
    public var loadBalancerClass: String
    public var handleUnclassedServices: Bool

    public init(pools: [AddressPool], loadBalancerClass: String = Configuration.defaultLoadBalancerClass,
                handleUnclassedServices: Bool = true) {
        self.pools = pools
        self.loadBalancerClass = loadBalancerClass
        self.handleUnclassedServices = handleUnclassedServices
    }

    public init(configuration: Configuration) {
        self.init(pools: configuration.pools, loadBalancerClass: configuration.loadBalancerClass,
                  handleUnclassedServices: configuration.handleUnclassedServices)
    }

    /// Why Ballast leaves a LoadBalancer Service alone, or nil when it handles it.
    /// Services of other types are never considered.
    public func ignoreReason(for service: Service) -> String? {
        switch service.loadBalancerClass {
        case nil where !handleUnclassedServices:
            "it has no loadBalancerClass and handleUnclassedServices is off"
        case .some(let cls) where cls != loadBalancerClass:
            "loadBalancerClass \"\(cls)\" belongs to another implementation (Ballast's is \"\(loadBalancerClass)\")"
        default:
            nil
        }
    }

    /// Allocates for every handled LoadBalancer Service of the snapshot.
    /// - Parameter previous: addresses each Service held after the last run
    ///   (`AllocationResult.addresses`, as persisted). A Service with no entry
    ///   (or an empty one) falls back to its status.loadBalancer.ingress addresses.
    public func allocate(snapshot: ClusterSnapshot, previous: [ObjectRef: [IPAddress]] = [:]) -> AllocationResult {
        allocate(services: Array(snapshot.services.values), namespaces: snapshot.namespaces, previous: previous)
    }

    public func allocate(services: [Service], namespaces: [String: Namespace],
                         previous: [ObjectRef: [IPAddress]] = [:]) -> AllocationResult {
        var run = AllocationRun(pools: pools, namespaces: namespaces)
        var requests: [AddressRequest] = []
        // Sorting indices, not Services: a Service is a large value to move around.
        for index in services.indices.sorted(by: { services[$0].ref < services[$1].ref }) {
            let service = services[index]
            guard service.type == .loadBalancer else { continue }
            if let reason = ignoreReason(for: service) {
                run.result.ignored[service.ref] = reason
                continue
            }
            do {
                requests.append(try AddressRequest(service))
            } catch {
                run.result.failures[service.ref] = error
            }
        }
        run.allocate(requests, previous: previous)
        return run.result
    }
}

/// The mutable state of one allocation.
private struct AllocationRun {
    /// By name, ascending.
    let pools: [PoolIndex]
    let poolsByName: [String: PoolIndex]
    let namespaces: [String: Namespace]
    var book = AddressBook()
    var result = AllocationResult()

    init(pools: [AddressPool], namespaces: [String: Namespace]) {
        // Duplicate names are a configuration error the decoder reports; keep the first here.
        var unique: [String: AddressPool] = [:]
        for pool in pools where unique[pool.name] == nil { unique[pool.name] = pool }
        self.pools = unique.values.sorted { $0.name < $1.name }.enumerated().map { PoolIndex($1, id: $0) }
        self.poolsByName = Dictionary(uniqueKeysWithValues: self.pools.map { ($0.name, $0) })
        self.namespaces = namespaces
    }

    /// Addresses a Service keeps from before, all in one pool.
    struct Kept {
        var pool: PoolIndex
        var addresses: [IPAddress]
    }

    /// `requests` must be sorted by name.
    mutating func allocate(_ requests: [AddressRequest], previous: [ObjectRef: [IPAddress]]) {
        // 1. Re-grant every still-valid previous address before anything new,
        //    so that no new Service can take an address an existing one holds.
        var kept: [Kept?] = []
        kept.reserveCapacity(requests.count)
        for request in requests {
            let before = previous[request.ref].flatMap { $0.isEmpty ? nil : $0 } ?? request.service.ingressIPs
            kept.append(before.isEmpty ? nil : keep(before, for: request))
        }
        // 2. Complete Services that kept something, then explicit requests, then
        //    automatic allocation; each group in name order (the order of `requests`).
        for keptSome in [true, false] {
            for explicit in [true, false] {
                for (request, k) in zip(requests, kept) where (k != nil) == keptSome && !request.requested.isEmpty == explicit {
                    if explicit {
                        assignRequested(request, kept: k)
                    } else if let k {
                        complete(request, kept: k)
                    } else {
                        allocateAutomatically(request)
                    }
                }
            }
        }
        result.usage = pools.flatMap { pool in
            AddressFamily.allCases.filter(pool.has).map { family in
                PoolUsage(pool: pool.name, family: family, size: pool.sizes[family] ?? 0,
                          inUse: book.inUse(pool: pool, family: family))
            }
        }
    }

    // MARK: Previous addresses

    private mutating func keep(_ before: [IPAddress], for request: AddressRequest) -> Kept? {
        var pool: PoolIndex?
        var addresses: [IPAddress] = []
        var withdrawn: [Withdrawal] = []
        func withdraw(_ address: IPAddress, _ reason: String) {
            withdrawn.append(Withdrawal(address: address, reason: reason))
        }
        let families = request.families
        for address in before.uniqued().sorted(by: { (families.rank($0.family), $0) < (families.rank($1.family), $1) }) {
            if !families.families.contains(address.family) {
                withdraw(address, "the Service is \(families)")
            } else if !request.requested.isEmpty && !request.requested.contains(address) {
                withdraw(address, "the Service requests \(request.requested.map(\.description).joined(separator: ", "))")
            } else if let other = addresses.first(where: { $0.family == address.family }) {
                withdraw(address, "the Service keeps \(other), and takes one address per family")
            } else if addresses.count >= families.maximum {
                withdraw(address, "the Service is \(families) and keeps \(addresses[0])")
            } else {
                switch poolFor(address, request, preferring: pool) {
                case .failure(let failure):
                    withdraw(address, Self.withdrawalReason(failure))
                case .success(let p) where pool != nil && pool?.name != p.name:
                    withdraw(address, "it is in pool \"\(p.name)\" but the Service keeps \(addresses[0]) of pool \"\(pool!.name)\"")
                case .success(let p):
                    if let (holder, conflict) = book.conflict(at: address, for: request) {
                        withdraw(address, "\(holder) holds it and \(conflict)")
                    } else {
                        book.take(address, pool: p, for: request)
                        addresses.append(address)
                        pool = p
                    }
                }
            }
        }
        if !withdrawn.isEmpty { result.withdrawals[request.ref] = withdrawn }
        guard let pool else { return nil }
        return Kept(pool: pool, addresses: addresses)
    }

    private static func withdrawalReason(_ failure: AllocationFailure) -> String {
        switch failure {
        case .notInAnyPool: "no address pool contains it any more"
        case let .excludedByAvoidBuggyIPs(_, pool): "pool \"\(pool)\" avoids addresses ending in .0 and .255 (avoidBuggyIPs)"
        case let .requestedAddressNotInRequestedPool(_, pool, requested):
            "the Service asks for pool \"\(requested)\" but the address is in pool \"\(pool)\""
        case .unknownPool(let name): "the Service asks for pool \"\(name)\", which does not exist"
        case let .poolDoesNotSelectService(pool, why): "pool \"\(pool)\" no longer serves this Service: \(why)"
        default: failure.description
        }
    }

    // MARK: Pools

    private func namespaceLabels(_ request: AddressRequest) -> [String: String] {
        namespaces[request.ref.namespace]?.labels ?? [:]
    }

    private func rejection(_ pool: PoolIndex, _ request: AddressRequest) -> String? {
        pool.rejection(of: request.service, namespaceLabels: namespaceLabels(request))
    }

    /// The pool `address` belongs to for `request`: it must allow the address,
    /// be the pool the Service names (if any) and serve the Service. With
    /// overlapping pools, `preferring` (the pool of the Service's other
    /// address) wins, then the first by name.
    private func poolFor(_ address: IPAddress, _ request: AddressRequest,
                         preferring preferred: PoolIndex?) -> Result<PoolIndex, AllocationFailure> {
        let containing = pools.filter { $0.pool.contains(address) }
        guard let first = containing.first else { return .failure(.notInAnyPool(address)) }
        var candidates = containing.filter { $0.pool.allows(address) }
        guard !candidates.isEmpty else { return .failure(.excludedByAvoidBuggyIPs(address, pool: first.name)) }
        if let preferred, let i = candidates.firstIndex(where: { $0.name == preferred.name }) {
            candidates.insert(candidates.remove(at: i), at: 0)
        }
        if let name = request.poolName {
            guard poolsByName[name] != nil else { return .failure(.unknownPool(name)) }
            guard let named = candidates.first(where: { $0.name == name }) else {
                return .failure(.requestedAddressNotInRequestedPool(address, pool: candidates[0].name, requestedPool: name))
            }
            candidates = [named]
        }
        if let pool = candidates.first(where: { rejection($0, request) == nil }) { return .success(pool) }
        return .failure(.poolDoesNotSelectService(pool: candidates[0].name, why: rejection(candidates[0], request) ?? ""))
    }

    // MARK: Granting

    private mutating func assign(_ request: AddressRequest, pool: PoolIndex, _ addresses: [IPAddress]) {
        let ordered = addresses.sorted { request.families.rank($0.family) < request.families.rank($1.family) }
        result.assignments[request.ref] = Assignment(pool: pool.name, addresses: ordered)
    }

    private mutating func fail(_ request: AddressRequest, _ failure: AllocationFailure, releasing held: [IPAddress]) {
        for address in held { book.release(address, for: request.ref) }
        result.failures[request.ref] = failure
    }

    private mutating func assignRequested(_ request: AddressRequest, kept: Kept?) {
        var pool = kept?.pool
        var addresses = kept?.addresses ?? []
        for address in request.requested where !addresses.contains(address) {
            let chosen: PoolIndex
            switch poolFor(address, request, preferring: pool) {
            case .failure(let failure):
                return fail(request, failure, releasing: addresses)
            case .success(let p):
                chosen = p
            }
            if let pool, pool.name != chosen.name {
                return fail(request, .requestedAddressesInDifferentPools([addresses[0], address], pools: [pool.name, chosen.name]),
                            releasing: addresses)
            }
            if let (holder, conflict) = book.conflict(at: address, for: request) {
                return fail(request, .addressInUse(address, by: holder, conflict), releasing: addresses)
            }
            book.take(address, pool: chosen, for: request)
            addresses.append(address)
            pool = chosen
        }
        if let pool { assign(request, pool: pool, addresses) }
    }

    /// A Service keeping some addresses takes any missing family from the same
    /// pool (MetalLB does this for PreferDualStack; for RequireDualStack it is
    /// what keeps the other family sticky when one range goes away).
    private mutating func complete(_ request: AddressRequest, kept: Kept) {
        var addresses = kept.addresses
        var shortages: [PoolShortage] = []
        for family in request.families.families
        where addresses.count < request.families.maximum && !addresses.contains(where: { $0.family == family }) {
            if let address = candidate(in: kept.pool, family, for: request) {
                book.take(address, pool: kept.pool, for: request)
                addresses.append(address)
            } else {
                shortages.append(shortage(kept.pool, family))
            }
        }
        if addresses.count < request.families.minimum {
            return fail(request, .noFreeAddress(shortages), releasing: addresses)
        }
        assign(request, pool: kept.pool, addresses)
    }

    private mutating func allocateAutomatically(_ request: AddressRequest) {
        let groups: [[PoolIndex]]
        if let name = request.poolName {
            guard let pool = poolsByName[name] else { return fail(request, .unknownPool(name), releasing: []) }
            if let why = rejection(pool, request) {
                return fail(request, .poolDoesNotSelectService(pool: name, why: why), releasing: [])
            }
            groups = [[pool]]
        } else {
            guard !pools.isEmpty else { return fail(request, .noPoolsConfigured, releasing: []) }
            // MetalLB: pools whose serviceAllocation selects the Service first, by
            // priority; then pools without serviceAllocation. A pool restricted to
            // other Services is never a fallback.
            let selecting = pools.filter { $0.pool.autoAssign && $0.pool.serviceAllocation != nil && rejection($0, request) == nil }
                .sorted(by: PoolIndex.byPriority)
            let open = pools.filter { $0.pool.autoAssign && $0.pool.serviceAllocation == nil }
            groups = [selecting, open].filter { !$0.isEmpty }
            if groups.isEmpty { return fail(request, .noEligiblePool(details: ineligibility(request)), releasing: []) }
        }
        var shortages: [PoolShortage] = []
        for group in groups {
            if let (pool, addresses) = best(in: group, for: request, shortages: &shortages) {
                for address in addresses { book.take(address, pool: pool, for: request) }
                return assign(request, pool: pool, addresses)
            }
        }
        fail(request, .noFreeAddress(shortages), releasing: [])
    }

    /// Why no pool may serve `request` automatically, one line per pool (the first few).
    private func ineligibility(_ request: AddressRequest) -> [String] {
        let limit = 5
        var lines = pools.prefix(limit).map { pool in
            pool.pool.autoAssign ? "pool \"\(pool.name)\": \(rejection(pool, request) ?? "")"
                : "pool \"\(pool.name)\" has autoAssign off"
        }
        if pools.count > limit { lines.append("and \(pools.count - limit) more") }
        return lines
    }

    /// MetalLB's choice within a group of pools: the first pool that gives every
    /// wanted family; for PreferDualStack, failing that, the first pool with the
    /// primary family, then the first with the secondary.
    private mutating func best(in group: [PoolIndex], for request: AddressRequest,
                               shortages: inout [PoolShortage]) -> (PoolIndex, [IPAddress])? {
        let families = request.families
        var primaryOnly: (PoolIndex, [IPAddress])?
        var secondaryOnly: (PoolIndex, [IPAddress])?
        for pool in group {
            var picks: [AddressFamily: IPAddress] = [:]
            for family in families.families {
                if let address = candidate(in: pool, family, for: request) { picks[family] = address }
            }
            if families.maximum == 1 {
                if let family = families.families.first(where: { picks[$0] != nil }) { return (pool, [picks[family]!]) }
            } else if families.families.allSatisfy({ picks[$0] != nil }) {
                return (pool, families.families.map { picks[$0]! })
            } else if families.minimum == 1 {
                if primaryOnly == nil, let a = picks[families.families[0]] { primaryOnly = (pool, [a]) }
                if secondaryOnly == nil, let a = picks[families.families[1]] { secondaryOnly = (pool, [a]) }
            }
            // Report families the pool has, and missing ones only when the Service needs them all.
            for family in families.families where picks[family] == nil
                && (pool.has(family) || families.minimum == families.families.count) {
                shortages.append(shortage(pool, family))
            }
        }
        return primaryOnly ?? secondaryOnly
    }

    /// The lowest address of `family` in `pool` that `request` may use: free, or
    /// held under the same sharing key without conflict (MetalLB walks the pool
    /// from its start and takes the first usable one, which is the lower of the two).
    private mutating func candidate(in pool: PoolIndex, _ family: AddressFamily, for request: AddressRequest) -> IPAddress? {
        let free = book.lowestFree(in: pool, family: family)
        guard let joinable = book.lowestJoinable(in: pool, family: family, for: request) else { return free }
        return free.map { min($0, joinable) } ?? joinable
    }

    private func shortage(_ pool: PoolIndex, _ family: AddressFamily) -> PoolShortage {
        PoolShortage(pool: pool.name, family: family, hasFamily: pool.has(family), onlyFamily: pool.hasOnly(family),
                     inUse: book.inUse(pool: pool, family: family), size: pool.sizes[family] ?? 0)
    }
}
