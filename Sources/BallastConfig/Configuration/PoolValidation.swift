import BallastCore

/// Rules that look at all pools together, wherever they were defined
/// (ballast.yaml and MetalLB files): names are unique and no address belongs
/// to two ranges (MetalLB rejects overlapping CIDRs in its configuration too;
/// an address in two pools would make allocation depend on pool order).
enum PoolValidation {
    static func validate(_ pools: [DecodedPool], sink: DiagnosticSink) {
        checkNames(pools, sink: sink)
        checkOverlaps(pools, sink: sink)
    }

    private static func checkNames(_ pools: [DecodedPool], sink: DiagnosticSink) {
        var first: [String: SourceLocation] = [:]
        for p in pools {
            if let earlier = first[p.pool.name] {
                sink.error("duplicate pool name \"\(p.pool.name)\"", at: p.nameLocation,
                           hint: "the first pool of that name is at \(earlier); pool names must be unique")
            } else {
                first[p.pool.name] = p.nameLocation
            }
        }
    }

    private struct Entry {
        var poolIndex: Int
        var pool: String
        var range: AddressRange
        var location: SourceLocation
        /// Position in the input, so a finding is reported at the later of two entries.
        var order: Int
    }

    /// Sweeps the ranges in address order, keeping the one reaching furthest:
    /// each range that starts before it ends overlaps it. O(n log n), and every
    /// overlapping range is reported once, next to an earlier one it hits.
    private static func checkOverlaps(_ pools: [DecodedPool], sink: DiagnosticSink) {
        var entries: [Entry] = []
        for (index, p) in pools.enumerated() {
            for (range, location) in zip(p.pool.ranges, p.rangeLocations) {
                entries.append(Entry(poolIndex: index, pool: p.pool.name, range: range, location: location,
                                     order: entries.count))
            }
        }
        entries.sort { ($0.range, $0.order) < ($1.range, $1.order) }
        var findings: [(at: Entry, other: Entry)] = []
        var furthest: Entry?
        for entry in entries {
            if let f = furthest, f.range.overlaps(entry.range) {
                findings.append(f.order < entry.order ? (entry, f) : (f, entry))
            }
            if furthest == nil || furthest!.range.family != entry.range.family || furthest!.range.last < entry.range.last {
                furthest = entry
            }
        }
        for (at, other) in findings.sorted(by: { $0.at.order < $1.at.order }) {
            let whose = at.poolIndex == other.poolIndex
                ? "range \(other.range) of the same pool" : "pool \"\(other.pool)\" range \(other.range)"
            sink.error("pool \"\(at.pool)\" range \(at.range) overlaps \(whose) (\(other.location))", at: at.location,
                       hint: "an address can belong to one pool only; shrink or remove one of the two ranges")
        }
    }
}
