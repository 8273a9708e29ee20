// Who holds which address during one allocation run, and the per-pool
// structures that find the lowest free address without rescanning the pool
// from its start for every Service (MetalLB's allocator does, which makes a
// full resync quadratic).

struct AddressBook: Sendable {
    struct Holder: Sendable {
        var pool: String
        /// The sharing identity of the first holder; every later holder matches it.
        var share: ShareKey
        var ports: [ServicePortKey: ObjectRef]
        var services: [ObjectRef]
    }

    private struct PoolFamily: Hashable {
        var pool: String
        var family: AddressFamily
    }

    private struct SharingSlot: Hashable {
        var pool: String
        var family: AddressFamily
        var key: String
    }

    private(set) var holders: [IPAddress: Holder] = [:]
    private var inUse: [PoolFamily: UInt64] = [:]
    /// Addresses held under each sharing key, so a Service with that key finds
    /// an address to join without walking every address in use.
    private var sharable: [SharingSlot: Set<IPAddress>] = [:]
    /// Invariant: every usable address of the pool family below the cursor is held.
    private var cursors: [PoolFamily: IPAddress] = [:]
    private var exhausted: Set<PoolFamily> = []

    /// Why `request` may not use `address`, naming a Service that holds it; nil if it may.
    func conflict(at address: IPAddress, for request: AddressRequest) -> (holder: ObjectRef, SharingConflict)? {
        guard let holder = holders[address], let first = holder.services.first(where: { $0 != request.ref }) else {
            return nil
        }
        guard let held = holder.share.sharingKey else { return (first, .holderDoesNotShare) }
        guard let wanted = request.share.sharingKey else { return (first, .requesterDoesNotShare) }
        guard held == wanted else { return (first, .keysDiffer(holder: held, requester: wanted)) }
        guard holder.share.backendKey == request.share.backendKey else { return (first, .backendsDiffer) }
        for port in request.ports.sorted() {
            if let user = holder.ports[port], user != request.ref { return (user, .portInUse(port)) }
        }
        return nil
    }

    /// Records `request` as a holder of `address`; the caller has checked `conflict`.
    mutating func take(_ address: IPAddress, pool: String, for request: AddressRequest) {
        if var holder = holders[address] {
            for port in request.ports { holder.ports[port] = request.ref }
            holder.services.append(request.ref)
            holders[address] = holder
            return
        }
        holders[address] = Holder(pool: pool, share: request.share,
                                  ports: Dictionary(uniqueKeysWithValues: request.ports.map { ($0, request.ref) }),
                                  services: [request.ref])
        inUse[PoolFamily(pool: pool, family: address.family), default: 0] += 1
        if let key = request.share.sharingKey {
            sharable[SharingSlot(pool: pool, family: address.family, key: key), default: []].insert(address)
        }
    }

    mutating func release(_ address: IPAddress, for ref: ObjectRef) {
        guard var holder = holders[address] else { return }
        holder.services.removeAll { $0 == ref }
        holder.ports = holder.ports.filter { $0.value != ref }
        guard holder.services.isEmpty else {
            holders[address] = holder
            return
        }
        holders[address] = nil
        let slot = PoolFamily(pool: holder.pool, family: address.family)
        inUse[slot, default: 1] -= 1
        if let key = holder.share.sharingKey {
            sharable[SharingSlot(pool: holder.pool, family: address.family, key: key)]?.remove(address)
        }
        // Keep the cursor invariant: the freed address is now the lowest candidate if below it.
        if exhausted.remove(slot) != nil || cursors[slot].map({ address < $0 }) == true {
            cursors[slot] = address
        }
    }

    func inUse(pool: String, family: AddressFamily) -> UInt64 { inUse[PoolFamily(pool: pool, family: family)] ?? 0 }

    /// The lowest usable address of `family` in `pool` that nobody holds.
    /// Amortised O(1): the cursor only moves past held addresses.
    mutating func lowestFree(in pool: PoolIndex, family: AddressFamily) -> IPAddress? {
        let slot = PoolFamily(pool: pool.name, family: family)
        guard !exhausted.contains(slot), let ranges = pool.ranges[family] else { return nil }
        let start = cursors[slot]
        for range in ranges where start.map({ range.last >= $0 }) ?? true {
            var candidate = start.map { max($0, range.first) } ?? range.first
            while true {
                if holders[candidate] == nil && pool.pool.allows(candidate) {
                    cursors[slot] = candidate
                    return candidate
                }
                guard candidate < range.last, let next = candidate.advanced(by: 1) else { break }
                candidate = next
            }
        }
        exhausted.insert(slot)
        return nil
    }

    /// The lowest address of `family` in `pool` that `request` may join under its sharing key.
    func lowestJoinable(in pool: PoolIndex, family: AddressFamily, for request: AddressRequest) -> IPAddress? {
        guard let key = request.share.sharingKey,
              let addresses = sharable[SharingSlot(pool: pool.name, family: family, key: key)] else { return nil }
        return addresses.filter { conflict(at: $0, for: request) == nil }.min()
    }
}
