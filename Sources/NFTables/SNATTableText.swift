import BallastCore

/// The text and JSON forms of Ballast's SNAT table. Pure: the kernel I/O is
/// in `NFTablesSNAT`.
///
/// Shape, for one rule (IPv4, TCP 192.0.2.10:80 → 10.0.0.5, 10.0.0.6):
///
///     table inet ballast {
///         comment "…"
///         chain prerouting {
///             type filter hook prerouting priority -150; policy accept;
///             ip daddr 192.0.2.10 tcp dport 80 meta mark set meta mark | 0x10000000
///         }
///         chain postrouting {
///             type nat hook postrouting priority srcnat; policy accept;
///             meta mark & 0x10000000 == 0x10000000 ct original ip daddr 192.0.2.10 meta l4proto tcp
///                 ct original proto-dst 80 ip daddr { 10.0.0.5, 10.0.0.6 } masquerade
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
///   only towards this rule's destinations (endpoints on other nodes), and only
///   for connections that were addressed to this rule's VIP and port (the
///   conntrack original tuple), so one VIP's rule cannot leak onto another's.
/// - One inet table serves both families; the address matches select one.
/// - No rules means no chains: no hooks and no conntrack work for a node that
///   needs no source NAT.
enum SNATTableText {
    static let prerouteChain = "prerouting"
    static let postrouteChain = "postrouting"
    /// Before IPVS (LOCAL_IN), before NAT (dstnat is -100); the value the
    /// kernel VM experiment used. nft names it "mangle".
    static let markPriority = -150
    /// NF_IP_PRI_NAT_SRC, nft's "srcnat".
    static let masqueradePriority = 100

    /// The nft script that replaces the table atomically: libnftables applies
    /// one buffer as one transaction. Creating the table first makes the
    /// delete succeed whether or not it existed.
    static func replaceScript(table: String, mark: UInt32, rules: [SNATRule]) -> String {
        var lines = [
            "table inet \(table) {}",
            "delete table inet \(table)",
            "table inet \(table) {",
            "\tcomment \"Ballast source NAT for Cluster traffic policy; owned by ballastd, replaced as a whole\"",
        ]
        if !rules.isEmpty {
            let markHex = hex(mark)
            lines.append("\tchain \(prerouteChain) {")
            lines.append("\t\ttype filter hook prerouting priority \(markPriority); policy accept;")
            for rule in rules {
                lines.append("\t\t\(family(rule.address)) daddr \(rule.address) \(rule.protocol.rawValue) dport \(rule.port) "
                                 + "meta mark set meta mark | \(markHex)")
            }
            lines.append("\t}")
            lines.append("\tchain \(postrouteChain) {")
            lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
            for rule in rules {
                let destinations = rule.destinations.map(\.description).joined(separator: ", ")
                lines.append("\t\tmeta mark & \(markHex) == \(markHex) "
                                 + "ct original \(family(rule.address)) daddr \(rule.address) "
                                 + "meta l4proto \(rule.protocol.rawValue) ct original proto-dst \(rule.port) "
                                 + "\(family(rule.address)) daddr { \(destinations) } masquerade")
            }
            lines.append("\t}")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    static func deleteScript(table: String) -> String {
        "table inet \(table) {}\ndelete table inet \(table)\n"
    }

    /// nft's name for the network-layer protocol of an address.
    private static func family(_ address: IPAddress) -> String {
        address.family == .ipv4 ? "ip" : "ip6"
    }

    private static func hex(_ value: UInt32) -> String {
        "0x" + String(value, radix: 16)
    }
}
