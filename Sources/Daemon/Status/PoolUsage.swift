// Pool sizes and usage per address family, for `ballastctl pools` and the
// ballast_pool_addresses* metrics.
import BallastCore

public enum PoolUsage {
    /// One row per pool and family present in its ranges, sorted by pool then family.
    public static func rows(pools: [AddressPool], assignments: AssignmentTable) -> [PoolRow] {
        var rows: [PoolRow] = []
        for pool in pools.sorted(by: { $0.name < $1.name }) {
            for family in AddressFamily.allCases {
                let ranges = pool.ranges.filter { $0.family == family }
                guard !ranges.isEmpty else { continue }
                let size = ranges.reduce(UInt64(0)) { total, range in
                    total.addingReportingOverflow(usableCount(range, avoidBuggyIPs: pool.avoidBuggyIPs)).overflow
                        ? .max : total + usableCount(range, avoidBuggyIPs: pool.avoidBuggyIPs)
                }
                var used = Set<IPAddress>()
                for assignment in assignments.values where assignment.pool == pool.name {
                    for address in assignment.addresses where address.family == family && pool.contains(address) {
                        used.insert(address)
                    }
                }
                rows.append(PoolRow(name: pool.name, family: family, size: size, inUse: UInt64(used.count),
                                    autoAssign: pool.autoAssign))
            }
        }
        return rows
    }

    /// Addresses of `range` a Service may get: avoidBuggyIPs drops IPv4
    /// addresses ending in .0 or .255 (MetalLB's rule), IPv6 is unaffected.
    static func usableCount(_ range: AddressRange, avoidBuggyIPs: Bool) -> UInt64 {
        guard avoidBuggyIPs, case .v4(let first) = range.first, case .v4(let last) = range.last else { return range.size }
        // Count x in [first, last] with x mod 256 == k, for k = 0 and k = 255.
        func count(endingIn k: UInt64) -> UInt64 {
            let a = UInt64(first.value), b = UInt64(last.value)
            let firstHit = a % 256 <= k ? a - a % 256 + k : a - a % 256 + 256 + k
            return firstHit > b ? 0 : (b - firstHit) / 256 + 1
        }
        return range.size - count(endingIn: 0) - count(endingIn: 255)
    }
}
