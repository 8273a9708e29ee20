// ballastctl's text output: aligned columns like kubectl, sentences for
// explain. Pure functions of the API's responses, so they are tested
// without a daemon.
import BallastCore
import FoundationEssentials

public enum StatusText {
    /// Left-aligned columns separated by three spaces; the last column is not padded.
    public static func table(_ header: [String], _ rows: [[String]]) -> String {
        alignedLines([header] + rows).joined(separator: "\n") + "\n"
    }

    static func alignedLines(_ rows: [[String]]) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padded(to: widths[column])
            }.joined(separator: "   ").trimmingTrailingSpaces()
        }
    }

    public static func status(_ s: StatusResponse, now: Date) -> String {
        var lines = ["ballastd on \(s.node): \(s.health.rawValue)\(s.dryRun ? " (dry run: the kernel is not changed)" : "")"]
        for problem in s.problems { lines.append("  ! \(problem)") }
        var rows: [[String]] = []
        let configState = s.config.state == .current ? "current" : "STALE"
        rows.append(["config", "\(s.config.path) (\(configState), loaded \(timestamp(s.config.loadedAt, now: now)))"])
        if let error = s.config.error { rows.append(["", "rejected reload: \(error)"]) }
        rows.append(["source", s.source])
        for problem in s.sourceProblems { rows.append(["", problem]) }
        if let sync = s.lastSync {
            let errors = sync.errors.isEmpty ? "no errors" : "\(sync.errors.count) error\(sync.errors.count == 1 ? "" : "s")"
            rows.append(["last sync", "\(timestamp(sync.at, now: now)), \(sync.reason), \(seconds(sync.durationSeconds)), \(errors)"])
            for error in sync.errors.prefix(5) { rows.append(["", error]) }
            if sync.errors.count > 5 { rows.append(["", "… and \(sync.errors.count - 5) more (journalctl -u ballastd)"]) }
        } else {
            rows.append(["last sync", "none yet"])
        }
        rows.append(["last good", s.lastSuccessfulSyncAt.map { timestamp($0, now: now) } ?? "never"])
        rows.append(["services", "\(s.counts.services) handled, \(s.counts.allocated) with an address, \(s.counts.announced) address\(s.counts.announced == 1 ? "" : "es") announced by this node"
            + (s.counts.draining == 0 ? "" : ", \(s.counts.draining) answering ARP while connections drain")])
        rows.append(["ipvs", "\(s.counts.ipvsServices) virtual service\(s.counts.ipvsServices == 1 ? "" : "s"), \(s.counts.ipvsDestinations) destination\(s.counts.ipvsDestinations == 1 ? "" : "s")"])
        rows.append(["up since", timestamp(s.startedAt, now: now)])
        let width = rows.map(\.[0].count).max() ?? 0
        lines += rows.map { ($0[0].padded(to: width) + "   " + $0[1]).trimmingTrailingSpaces() }
        return lines.joined(separator: "\n") + "\n"
    }

    public static func services(_ r: ServicesResponse) -> String {
        guard !r.services.isEmpty else { return "No LoadBalancer Services handled by Ballast.\n" }
        let rows = r.services.sorted { $0.ref < $1.ref }.map { s in
            [s.namespace, s.name,
             s.externalIPs.isEmpty ? "<pending>" : s.externalIPs.map(\.description).joined(separator: ","),
             s.pool ?? "-", announcer(s), s.trafficPolicy,
             "\(s.endpointsReady)/\(s.endpointsTotal)", "\(s.ipvsDestinations)", s.problem ?? ""]
        }
        return table(["NAMESPACE", "NAME", "EXTERNAL-IP", "POOL", "ANNOUNCER", "POLICY", "READY", "IPVS-DESTS", "PROBLEM"], rows)
    }

    /// The announcing nodes; an address this node only answers for while
    /// connections drain is shown as draining, not as announced.
    static func announcer(_ s: ServiceRow) -> String {
        let parts = s.announcingNodes + (s.drainingAddresses.isEmpty ? [] : ["draining"])
        return parts.isEmpty ? "-" : parts.joined(separator: ",")
    }

    public static func pools(_ r: PoolsResponse) -> String {
        guard !r.pools.isEmpty else { return "No address pools configured.\n" }
        let rows = r.pools.sorted { ($0.name, $0.family) < ($1.name, $1.family) }.map { p in
            [p.name, p.family == .ipv4 ? "IPv4" : "IPv6", count(p.size), count(p.inUse), count(p.free), p.autoAssign ? "yes" : "no"]
        }
        return table(["POOL", "FAMILY", "SIZE", "IN-USE", "FREE", "AUTO-ASSIGN"], rows)
    }

    public static func explain(_ r: ExplainResponse) -> String {
        ([r.service + ":"] + r.sentences.map { "  " + $0 }).joined(separator: "\n") + "\n"
    }

    public static func ipvs(_ r: IPVSResponse, now: Date) -> String {
        var lines: [String] = []
        if let error = r.error { lines.append("could not read the IPVS table: \(error)") }
        if let at = r.observedAt { lines.append("IPVS table as of \(timestamp(at, now: now)):") }
        if r.services.isEmpty && r.error == nil { lines.append("No IPVS virtual services.") }
        for s in r.services {
            lines.append("\(s.service) \(s.scheduler.rawValue)  \(s.owner.map { "(\($0))" } ?? "(not Ballast's)")")
            let rows = s.destinations.map { d in
                ["  -> \(d.address)", d.forwarding.rawValue, "weight \(d.weight)",
                 "active \(d.activeConnections)", "inactive \(d.inactiveConnections)"]
            }
            lines += alignedLines(rows)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `--output json`: the response as the API sends it, indented for reading.
    public static func json(_ value: some Encodable) -> String {
        let encoder = StatusCodec.encoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// "2024-01-31T23:59:59Z (5 s ago)".
    static func timestamp(_ date: Date, now: Date) -> String {
        let ago = Int(now.timeIntervalSince(date).rounded())
        let relative: String
        switch ago {
        case ..<0: relative = "in the future: check the clock"
        case 0..<120: relative = "\(ago) s ago"
        case 120..<7200: relative = "\(ago / 60) min ago"
        case 7200..<172_800: relative = "\(ago / 3600) h ago"
        default: relative = "\(ago / 86400) days ago"
        }
        return "\(date.formatted(.iso8601)) (\(relative))"
    }

    static func seconds(_ s: Double) -> String {
        s < 1 ? "\(Int((s * 1000).rounded())) ms" : "\((s * 100).rounded() / 100) s"
    }

    /// Pool sizes saturate at UInt64.max for /64-and-larger IPv6 ranges; print that as "2^64+".
    static func count(_ n: UInt64) -> String { n == .max ? "2^64+" : "\(n)" }
}

extension String {
    /// Followed by spaces up to `width` characters.
    func padded(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
