// The nodes that may announce addresses, and why the others may not.

struct NodeTable: Sendable {
    struct Entry: Sendable {
        var name: String
        var labels: [String: String]
        var live: Bool
        var ready: Bool
        var excluded: Bool
        /// The node's part of every rendezvous hash, computed once.
        var hashPrefix: StableHash

        var usable: Bool { live && ready && !excluded }
    }

    /// A node that may announce: only what ranking needs, cheap to copy and filter.
    struct Candidate: Sendable {
        var name: String
        var hashPrefix: StableHash
    }

    /// Every node known from the snapshot or the liveness input, by name.
    let entries: [Entry]

    /// Liveness (the daemon's membership view) is separate from Node.ready (the
    /// kubelet's view); a node must pass both. A live node missing from the
    /// snapshot (hand-written manifests rarely list Nodes) counts as a Ready
    /// node without labels.
    init(nodes: [String: Node], live: Set<String>) {
        entries = Set(nodes.keys).union(live).sorted().map { name in
            let node = nodes[name]
            var prefix = StableHash()
            prefix.combine(node: name)
            return Entry(name: name, labels: node?.labels ?? [:], live: live.contains(name), ready: node?.ready ?? true,
                         excluded: node?.labels[Node.excludeFromLoadBalancersLabel] != nil, hashPrefix: prefix)
        }
    }

    /// MetalLB's L2Advertisement nodeSelectors: none means every node, else any may match.
    static func matches(_ entry: Entry, _ pool: AddressPool?) -> Bool {
        guard let selectors = pool?.nodeSelectors, !selectors.isEmpty else { return true }
        return selectors.contains { $0.matches(entry.labels) }
    }

    /// Nodes that may announce addresses of `pool`, ignoring endpoints.
    func eligible(for pool: AddressPool?) -> [Candidate] {
        entries.filter { $0.usable && Self.matches($0, pool) }.map { Candidate(name: $0.name, hashPrefix: $0.hashPrefix) }
    }

    /// Highest rendezvous score wins; see Rendezvous.
    static func announcer(of address: IPAddress, among candidates: [Candidate]) -> String? {
        var best: (score: UInt64, name: String)?
        for entry in candidates {
            let score = entry.hashPrefix.finalized(with: address)
            if let b = best, score < b.score || (score == b.score && entry.name >= b.name) { continue }
            best = (score, entry.name)
        }
        return best?.name
    }

    /// Why no node of `pool` may announce: nodes grouped by their first failing
    /// condition, a few names each, so the text stays short in large clusters.
    func ineligibility(for pool: AddressPool?, poolName: String) -> String {
        guard !entries.isEmpty else { return "no nodes are known" }
        var groups: [(String, [String])] = [
            ("not live", []), ("not Ready", []),
            ("excluded by label \(Node.excludeFromLoadBalancersLabel)", []),
            ("not selected by the nodeSelectors of pool \"\(poolName)\"", []),
        ]
        for entry in entries {
            let index = !entry.live ? 0 : !entry.ready ? 1 : entry.excluded ? 2 : Self.matches(entry, pool) ? nil : 3
            if let index { groups[index].1.append(entry.name) }
        }
        return groups.filter { !$0.1.isEmpty }.map { "\($0.0): \(Self.names($0.1))" }.joined(separator: "; ")
    }

    static func names(_ list: [String], limit: Int = 3) -> String {
        list.prefix(limit).joined(separator: ", ") + (list.count > limit ? " and \(list.count - limit) more" : "")
    }
}
