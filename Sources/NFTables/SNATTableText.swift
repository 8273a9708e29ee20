import BallastCore

/// The text form of Ballast's SNAT table and of changes to its elements. Pure:
/// the kernel I/O is in `NFTablesSNAT`, the read-back in `SNATTableJSON`.
///
/// Shape, for TCP 192.0.2.10:80 → 10.0.0.5, 10.0.0.6 (both on other nodes):
///
///     table inet ballast {
///         comment "…"
///         set mark4 { type ipv4_addr . inet_proto . inet_service; elements = { 192.0.2.10 . 6 . 80 } }
///         set mark6 { type ipv6_addr . inet_proto . inet_service }
///         set masquerade4 { type ipv4_addr . ipv4_addr; elements = { 192.0.2.10 . 10.0.0.5, 192.0.2.10 . 10.0.0.6 } }
///         set masquerade6 { type ipv6_addr . ipv6_addr }
///         set digest { type mark . mark . mark . mark; elements = { 0x… . 0x… . 0x… . 0x… } }
///         chain prerouting {
///             type filter hook prerouting priority -150; policy accept;
///             ip daddr . meta l4proto . th dport @mark4 meta mark set meta mark | 0x10000000
///             ip6 daddr . meta l4proto . th dport @mark6 meta mark set meta mark | 0x10000000
///         }
///         chain postrouting {
///             type nat hook postrouting priority srcnat; policy accept;
///             meta mark & 0x10000000 == 0x10000000 ct original ip daddr . ip daddr @masquerade4 masquerade
///             meta mark & 0x10000000 == 0x10000000 ct original ip6 daddr . ip6 daddr @masquerade6 masquerade
///         }
///     }
///
/// Why this shape (verified in the kernel VM, see docs/dataplane.md):
/// - IPVS rewrites the destination in LOCAL_IN, after prerouting, and does not
///   mark the conntrack entry as DNAT'd, so `ct status dnat` never matches its
///   traffic. The mark is set while the destination is still the VIP.
/// - The mark bit is OR-ed in and tested with a mask, so other users of the
///   packet mark (kube-proxy uses 0x4000, Calico the high bits) keep theirs.
/// - At postrouting the destination is already the real server: masquerade
///   only connections that were marked, that were addressed to a VIP (the
///   conntrack original tuple) and that leave towards an endpoint on another
///   node for that VIP. The port is in the mark, not in the pair (see
///   `SNATPair`); `ct original proto-dst` could not be concatenated anyway
///   (nft rejects it as variable-sized).
/// - Named sets, not a rule per Service: one hash lookup per packet instead of
///   a linear rule walk, and writing or listing 10,000 Services is cheap
///   (every anonymous set added was looked up among all the others: O(n²)).
///   A change is an element add or delete; the rules never change.
/// - One inet table serves both families; the address matches select one.
/// - No elements means no sets and no chains: no hooks and no conntrack work
///   for a node that needs no source NAT.
/// - The `digest` set holds one element: `SNATTableDigest` of the other
///   sets' elements, written in the same transaction as they are, so the
///   table itself says which elements Ballast last wrote. A restarted daemon
///   checks it instead of listing 100,000 elements (`NFTablesSNAT.holdsAsWritten`).
///   Not a rule comment: libnftables 1.0.x fetches every set element into its
///   cache before any `replace rule`, the cost this avoids; an element add or
///   delete and a `flush set` do not. Not the table's or a set's comment: the
///   kernel cannot update those in place.
/// - Protocols are written as numbers: names go through the node's
///   /etc/protocols, numbers do not (nft prints names when it knows them).
enum SNATTableText {
    static let prerouteChain = "prerouting"
    static let postrouteChain = "postrouting"
    /// Before IPVS (LOCAL_IN), before NAT (dstnat is -100); the value the
    /// kernel VM experiment used. nft names it "mangle".
    static let markPriority = -150
    /// NF_IP_PRI_NAT_SRC, nft's "srcnat".
    static let masqueradePriority = 100

    /// The four sets, one per role and address family.
    enum SetName: String, CaseIterable {
        case mark4, mark6, masquerade4, masquerade6

        var family: AddressFamily { self == .mark4 || self == .masquerade4 ? .ipv4 : .ipv6 }
        var isMark: Bool { self == .mark4 || self == .mark6 }

        /// nft's set type.
        var type: [String] {
            let address = family == .ipv4 ? "ipv4_addr" : "ipv6_addr"
            return isMark ? [address, "inet_proto", "inet_service"] : [address, address]
        }

        static func mark(_ family: AddressFamily) -> Self { family == .ipv4 ? .mark4 : .mark6 }
        static func masquerade(_ family: AddressFamily) -> Self { family == .ipv4 ? .masquerade4 : .masquerade6 }
    }

    /// The set holding `SNATTableDigest` of the four sets above: one element of four 32-bit words.
    static let digestSet = "digest"
    static let digestType = ["mark", "mark", "mark", "mark"]

    /// The nft script that replaces the table atomically: libnftables applies
    /// one buffer as one transaction. Creating the table first makes the
    /// delete succeed whether or not it existed. `digest` is
    /// `SNATTableDigest(contents)`, which the caller keeps too.
    static func replaceScript(table: String, mark: UInt32, contents: SNATTable, digest: SNATTableDigest) -> String {
        var lines = [
            "table inet \(table) {}",
            "delete table inet \(table)",
            "table inet \(table) {",
            "\tcomment \"Ballast source NAT for Cluster traffic policy; owned by ballastd, replaced as a whole\"",
        ]
        if !contents.isEmpty {
            let elements = elementsBySet(marks: contents.marks, masquerades: contents.masquerades)
            for set in SetName.allCases {
                lines.append("\tset \(set.rawValue) {")
                lines.append("\t\ttype \(set.type.joined(separator: " . "))")
                if let list = elements[set], !list.isEmpty {
                    lines.append("\t\telements = { " + list.joined(separator: ",\n\t\t\t") + " }")
                }
                lines.append("\t}")
            }
            lines.append("\tset \(digestSet) {")
            lines.append("\t\ttype \(digestType.joined(separator: " . "))")
            lines.append("\t\telements = { \(digest.element) }")
            lines.append("\t}")
            let markHex = hex(mark)
            lines.append("\tchain \(prerouteChain) {")
            lines.append("\t\ttype filter hook prerouting priority \(markPriority); policy accept;")
            for family in [AddressFamily.ipv4, .ipv6] {
                lines.append("\t\t\(nftFamily(family)) daddr . meta l4proto . th dport @\(SetName.mark(family).rawValue) "
                                 + "meta mark set meta mark | \(markHex)")
            }
            lines.append("\t}")
            lines.append("\tchain \(postrouteChain) {")
            lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
            for family in [AddressFamily.ipv4, .ipv6] {
                let ip = nftFamily(family)
                lines.append("\t\tmeta mark & \(markHex) == \(markHex) ct original \(ip) daddr . \(ip) daddr "
                                 + "@\(SetName.masquerade(family).rawValue) masquerade")
            }
            lines.append("\t}")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The nft script that applies `change` to the sets, in one transaction:
    /// deletes first, then adds, then the digest set emptied and given
    /// `digest`, the digest of the elements after the change. A delete of an
    /// element that is not there fails the whole transaction, so a drifted
    /// table is never half-updated, and the digest changes only with the
    /// elements it describes. `digest` nil (the elements before the change are
    /// not known) leaves the digest set empty: the table then reads as not
    /// Ballast's and the next full read replaces it.
    static func updateScript(table: String, change: SNATTableChange, digest: SNATTableDigest?) -> String {
        var lines: [String] = []
        for (verb, marks, masquerades) in [("delete", change.deleteMarks, change.deleteMasquerades),
                                           ("add", change.addMarks, change.addMasquerades)] {
            let elements = elementsBySet(marks: marks, masquerades: masquerades)
            for set in SetName.allCases {
                guard let list = elements[set], !list.isEmpty else { continue }
                lines.append("\(verb) element inet \(table) \(set.rawValue) { " + list.joined(separator: ", ") + " }")
            }
        }
        lines.append("flush set inet \(table) \(digestSet)")
        if let digest { lines.append("add element inet \(table) \(digestSet) { \(digest.element) }") }
        return lines.map { $0 + "\n" }.joined()
    }

    static func deleteScript(table: String) -> String {
        "table inet \(table) {}\ndelete table inet \(table)\n"
    }

    /// Each set's elements in nft syntax, sorted so that scripts are stable
    /// (`SNATElements` is, within each family: a pair of two families, the
    /// only one out of order, is not written).
    private static func elementsBySet(marks: SNATElements<SNATMatch>,
                                      masquerades: SNATElements<SNATPair>) -> [SetName: [String]] {
        var elements: [SetName: [String]] = [:]
        for m in marks {
            elements[.mark(m.address.family), default: []].append("\(m.address) . \(m.protocol.number) . \(m.port)")
        }
        for p in masquerades where p.destination.family == p.address.family {
            elements[.masquerade(p.address.family), default: []].append("\(p.address) . \(p.destination)")
        }
        return elements
    }

    /// nft's name for the network-layer protocol of a family.
    static func nftFamily(_ family: AddressFamily) -> String {
        family == .ipv4 ? "ip" : "ip6"
    }

    static func hex(_ value: UInt32) -> String {
        "0x" + String(value, radix: 16)
    }
}
