// Who holds which address during one allocation run, and the per-pool
// structures that find the lowest free address without rescanning the pool
// from its start for every Service (MetalLB's allocator does, which makes a
// full resync quadratic).

struct AddressBook: Sendable {
    struct Holder: Sendable {
        /// PoolIndex.id of the pool the address was granted from.
        var pool: Int
        /// The sharing identity of the first holder; every later holder matches it.
        var share: ShareKey
        /// Few per address: a list is cheaper than a dictionary.
        var ports: [(port: ServicePortKey, user: ObjectRef)]
        var services: [ObjectRef]
    }

    private struct PoolFamily: Hashable {
        var pool: Int
        var family: AddressFamily
    }

    private struct SharingSlot: Hashable {
        var pool: Int
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
        for port in request.ports {
            if let use = holder.ports.first(where: { $0.port == port && $0.user != request.ref }) {
                return (use.user, .portInUse(port))
            }
        }
        return nil
    }

    /// Records `request` as a holder of `address`; the caller has checked `conflict`.
    mutating func take(_ address: IPAddress, pool: PoolIndex, for request: AddressRequest) {
        let uses = request.ports.map { (port: $0, user: request.ref) }
        if holders[address] != nil {
            holders[address]!.ports += uses
            holders[address]!.services.append(request.ref)
            return
        }
        holders[address] = Holder(pool: pool.id, share: request.share, ports: uses, services: [request.ref])
        inUse[PoolFamily(pool: pool.id, family: address.family), default: 0] += 1
        if let key = request.share.sharingKey {
            sharable[SharingSlot(pool: pool.id, family: address.family, key: key), default: []].insert(address)
        }
    }

    mutating func release(_ address: IPAddress, for ref: ObjectRef) {
        guard var holder = holders[address] else { return }
        holder.services.removeAll { $0 == ref }
        holder.ports.removeAll { $0.user == ref }
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

    func inUse(pool: PoolIndex, family: AddressFamily) -> UInt64 { inUse[PoolFamily(pool: pool.id, family: family)] ?? 0 }

    /// The lowest usable address of `family` in `pool` that nobody holds.
    /// Amortised O(1): the cursor only moves past held addresses.
    mutating func lowestFree(in pool: PoolIndex, family: AddressFamily) -> IPAddress? {
        let slot = PoolFamily(pool: pool.id, family: family)
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
              let addresses = sharable[SharingSlot(pool: pool.id, family: family, key: key)] else { return nil }
        return addresses.filter { conflict(at: $0, for: request) == nil }.min()
    }
}
