// A pool prepared for allocation: ranges per family in address order, usable
// sizes, and MetalLB's serviceAllocation rules (which Services a pool serves,
// and in which order pools are tried).

struct PoolIndex: Sendable {
    /// Position among the run's pools (sorted by name): a cheap key for per-pool state.
    let id: Int
    let pool: AddressPool
    /// Ranges of each family, ascending, so "lowest free address" is well defined
    /// whatever order the configuration lists them in.
    let ranges: [AddressFamily: [AddressRange]]
    /// Usable addresses per family (avoidBuggyIPs excluded), saturating.
    let sizes: [AddressFamily: UInt64]

    init(_ pool: AddressPool, id: Int = 0) {
        self.id = id
        self.pool = pool
        var ranges: [AddressFamily: [AddressRange]] = [:]
        for range in pool.ranges { ranges[range.family, default: []].append(range) }
        self.ranges = ranges.mapValues { $0.sorted() }
        self.sizes = self.ranges.mapValues { list in
            list.reduce(UInt64(0)) { total, range in
                let usable = range.size - (pool.avoidBuggyIPs ? range.buggyAddressCount : 0)
                return total.addingReportingOverflow(usable).overflow ? .max : total + usable
            }
        }
    }

    var name: String { pool.name }

    func has(_ family: AddressFamily) -> Bool { ranges[family] != nil }

    /// Whether every range of the pool is of `family` (chooses "is exhausted" over "has no free IPv4 address").
    func hasOnly(_ family: AddressFamily) -> Bool { ranges.count == 1 && has(family) }

    /// nil when the pool serves `service`; otherwise why not. A namespace
    /// condition (namespaces or namespaceSelectors, either may match) and a
    /// Service condition (any serviceSelector) must both hold, as in MetalLB.
    func rejection(of service: Service, namespaceLabels: [String: String]) -> String? {
        guard let allocation = pool.serviceAllocation else { return nil }
        let namespace = service.ref.namespace
        if !allocation.namespaces.isEmpty || !allocation.namespaceSelectors.isEmpty {
            let selected = allocation.namespaces.contains(namespace)
                || allocation.namespaceSelectors.contains { $0.matches(namespaceLabels) }
            if !selected { return "its serviceAllocation does not select namespace \"\(namespace)\"" }
        }
        if !allocation.serviceSelectors.isEmpty && !allocation.serviceSelectors.contains(where: { $0.matches(service.labels) }) {
            return "its serviceAllocation.serviceSelectors do not match the Service's labels"
        }
        return nil
    }

    /// MetalLB tries pools that select the Service by priority: a lower number
    /// first, unnumbered ones last. Ties go by name so the order never depends
    /// on how the configuration happened to list them.
    static func byPriority(_ a: PoolIndex, _ b: PoolIndex) -> Bool {
        let pa = a.pool.serviceAllocation?.priority, pb = b.pool.serviceAllocation?.priority
        return (pa == nil ? 1 : 0, pa ?? 0, a.name) < (pb == nil ? 1 : 0, pb ?? 0, b.name)
    }
}

extension AddressRange {
    /// IPv4 addresses ending in .0 or .255 inside the range (skipped by avoidBuggyIPs).
    var buggyAddressCount: UInt64 {
        guard case let (.v4(a), .v4(b)) = (first, last) else { return 0 }
        // Addresses x ≤ n with x % 256 == r, for n ≥ -1.
        func upTo(_ n: Int64, _ r: Int64) -> Int64 { n < r ? 0 : (n - r) / 256 + 1 }
        let lo = Int64(a.value) - 1, hi = Int64(b.value)
        return UInt64(upTo(hi, 0) - upTo(lo, 0) + upTo(hi, 255) - upTo(lo, 255))
    }
}
