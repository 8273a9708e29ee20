import BallastCore

/// The report of `ballastd --check-config [FILE]`, and its exit status.
/// Reads the file (and the MetalLB files it names); `assignments`, when the
/// caller knows them (from the daemon's state), fills the ASSIGNED and FREE
/// columns.
public func checkConfig(path: String, assignments: [ObjectRef: [IPAddress]]? = nil) -> (output: String, valid: Bool) {
    do throws(Diagnostics) {
        let loaded = try ConfigurationFile.load(path: path)
        return (checkConfigSummary(file: path, loaded, assignments: assignments), true)
    } catch {
        return (error.description, false)
    }
}

/// What a valid configuration amounts to, for a person: its warnings, the
/// settings, and per pool its families, sizes and (given the current
/// assignments, Service → addresses) how many addresses are still free.
///
///     ballast.yaml: valid, 2 pools, 0 warnings
///       source:    files in /etc/ballast/services
///       ...
///     pools:
///       NAME     FAMILY  ADDRESSES  USABLE  ASSIGNED  FREE  RANGES
///       default  IPv4          256     254         2   252  192.0.2.0/24  (avoidBuggyIPs)
public func checkConfigSummary(file: String, _ loaded: LoadedConfiguration,
                               assignments: [ObjectRef: [IPAddress]]? = nil) -> String {
    let c = loaded.configuration
    var lines = loaded.diagnostics.map(\.description)
    let warnings = loaded.diagnostics.count { $0.severity == .warning }
    lines.append("\(file): valid, \(c.pools.count) pool\(c.pools.count == 1 ? "" : "s"), "
                 + "\(warnings) warning\(warnings == 1 ? "" : "s")")

    let source = switch c.source {
    case .files(let directory): "files in \(directory)"
    case .kubernetes(let kubeconfig?): "Kubernetes API, kubeconfig \(kubeconfig)"
    case .kubernetes(nil): "Kubernetes API, in-cluster service account"
    }
    let refresh = c.announce.refreshInterval.map { "refresh every \(DurationText.format($0))" } ?? "no periodic refresh"
    let settings: [(String, String)] = [
        ("source", source),
        ("node", c.nodeName ?? "the host name"),
        ("VIPs on", c.vipInterface),
        ("announce", "\(c.announce.burstCount) frame\(c.announce.burstCount == 1 ? "" : "s") "
            + "\(DurationText.format(c.announce.burstInterval)) apart on takeover, \(refresh)"),
        ("IPVS", "scheduler \(c.ipvs.scheduler.rawValue), drain \(DurationText.format(c.ipvs.drainTimeout)), "
            + "resync every \(DurationText.format(c.ipvs.resyncInterval))"),
        ("class", c.loadBalancerClass + (c.handleUnclassedServices ? ", and Services without a class" : " only")),
        ("metrics", c.metricsAddress ?? "off"),
        ("state", "\(c.stateDirectory), status socket \(c.statusSocket)"),
    ]
    for (name, value) in settings {
        lines.append("  " + "\(name):".padding(to: 11) + value)
    }

    let assigned = Set(assignments?.values.flatMap { $0 } ?? [])
    var header = ["NAME", "FAMILY", "ADDRESSES", "USABLE"]
    if assignments != nil { header += ["ASSIGNED", "FREE"] }
    header.append("RANGES")
    var rows = [header]
    for pool in c.pools {
        let families = Set(pool.ranges.map(\.family)).sorted().map { $0 == .ipv4 ? "IPv4" : "IPv6" }
        let size = pool.ranges.reduce(UInt128(0)) { $0 &+ PoolArithmetic.size($1) }
        let usable = pool.ranges.reduce(UInt128(0)) { $0 &+ PoolArithmetic.usable($1, avoidBuggyIPs: pool.avoidBuggyIPs) }
        var row = [pool.name, families.joined(separator: "+"), PoolArithmetic.format(size), PoolArithmetic.format(usable)]
        if assignments != nil {
            let inPool = UInt128(assigned.count { pool.allows($0) })
            row += [PoolArithmetic.format(inPool), PoolArithmetic.format(usable - min(usable, inPool))]
        }
        let options = poolOptions(pool)
        row.append(pool.ranges.map(\.description).joined(separator: ", ") + (options.isEmpty ? "" : "  (\(options))"))
        rows.append(row)
    }
    lines.append("pools:")
    let numeric = Set(2..<(header.count - 1))
    lines += table(rows, rightAligned: numeric).map { "  " + $0 }

    if let assignments {
        let outside = assignments.flatMap { service, addresses in
            addresses.filter { a in !c.pools.contains { $0.contains(a) } }.map { ($0, service) }
        }.sorted { $0.0 < $1.0 }
        if !outside.isEmpty {
            lines.append("warning: \(outside.count) assigned address\(outside.count == 1 ? " is" : "es are") in no pool: "
                         + outside.map { "\($0.0) (\($0.1))" }.joined(separator: ", "))
            lines.append("  hint: the Services keep them until they are reassigned; add the range back to keep them for good")
        }
    }
    return lines.joined(separator: "\n") + "\n"
}

/// The pool settings that differ from the defaults, in a few words.
private func poolOptions(_ pool: AddressPool) -> String {
    var options: [String] = []
    if !pool.autoAssign { options.append("autoAssign: false") }
    if pool.avoidBuggyIPs { options.append("avoidBuggyIPs") }
    if let a = pool.serviceAllocation {
        if let p = a.priority { options.append("priority \(p)") }
        if !a.namespaces.isEmpty { options.append("namespaces \(a.namespaces.joined(separator: ","))") }
        if !a.namespaceSelectors.isEmpty { options.append("\(a.namespaceSelectors.count) namespace selector(s)") }
        if !a.serviceSelectors.isEmpty { options.append("\(a.serviceSelectors.count) service selector(s)") }
    }
    if let interfaces = pool.interfaces { options.append("interfaces \(interfaces.joined(separator: ","))") }
    if !pool.nodeSelectors.isEmpty { options.append("\(pool.nodeSelectors.count) node selector(s)") }
    return options.joined(separator: ", ")
}

/// Columns padded to their widest cell; the last column is not padded.
private func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    return rows.map { row in
        row.indices.map { column in
            let cell = row[column]
            if column == row.count - 1 { return cell }
            let pad = String(repeating: " ", count: widths[column] - cell.count)
            return rightAligned.contains(column) ? pad + cell : cell + pad
        }.joined(separator: "  ")
    }
}

/// Exact address counts: an IPv6 pool can hold 2^64 addresses and more.
enum PoolArithmetic {
    static func size(_ range: AddressRange) -> UInt128 {
        switch (range.first, range.last) {
        case let (.v4(a), .v4(b)): UInt128(b.value - a.value) + 1
        case let (.v6(a), .v6(b)): value(b) &- value(a) &+ 1  // wraps to 0 only for ::/0
        default: 0
        }
    }

    /// Without the .0 and .255 addresses when avoidBuggyIPs is on (IPv4 only).
    static func usable(_ range: AddressRange, avoidBuggyIPs: Bool) -> UInt128 {
        guard avoidBuggyIPs, case let (.v4(a), .v4(b)) = (range.first, range.last) else { return size(range) }
        /// How many x in [a, b] have x mod 256 == r.
        func count(_ r: UInt64) -> UInt64 {
            let (lo, hi) = (UInt64(a.value), UInt64(b.value))
            let upTo: (UInt64) -> UInt64 = { n in n >= r ? (n - r) / 256 + 1 : 0 }
            return upTo(hi) - (lo == 0 ? 0 : upTo(lo - 1))
        }
        return size(range) - UInt128(count(0) + count(255))
    }

    private static func value(_ a: IPv6Address) -> UInt128 { UInt128(a.high) << 64 | UInt128(a.low) }

    /// Decimal up to 2^40, then as a power of two ("2^64", "~2^64").
    static func format(_ n: UInt128) -> String {
        guard n >= UInt128(1) << 40 else { return "\(n)" }
        let bits = UInt128.bitWidth - n.leadingZeroBitCount
        let isPowerOfTwo = n & (n - 1) == 0
        return isPowerOfTwo ? "2^\(bits - 1)" : "~2^\(n >> (bits - 2) == 3 ? bits : bits - 1)"
    }
}

private extension String {
    func padding(to width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
