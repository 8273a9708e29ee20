// Desired vs actual for Ballast's SNAT table. The table is small and is
// written as a whole in one transaction, so the diff is a comparison: write
// when the table differs, and never when it is already right (so a restarted
// daemon does not touch a correct table).

extension SNATRule {
    /// The form a table holds and reads back: one rule per VIP, port and
    /// protocol (destinations of duplicates merged), destinations deduplicated
    /// and sorted, destinations of the other address family dropped (IPVS
    /// cannot masquerade across families, so they are unreachable through the
    /// rule anyway), rules left without destinations dropped (nothing to
    /// masquerade), rules sorted.
    public static func canonical(_ rules: [SNATRule]) -> [SNATRule] {
        var merged: [SNATRule] = []
        for rule in rules.sorted() {
            let destinations = rule.destinations.filter { $0.family == rule.address.family }
            if let last = merged.last, last.address == rule.address, last.port == rule.port,
               last.protocol == rule.protocol {
                merged[merged.count - 1].destinations = Array(Set(last.destinations + destinations)).sorted()
            } else {
                merged.append(SNATRule(address: rule.address, port: rule.port, protocol: rule.protocol,
                                       destinations: Array(Set(destinations))))
            }
        }
        return merged.filter { !$0.destinations.isEmpty }
    }
}

public enum SNATReconcile {
    /// Brings the table to hold `desired`. Returns true when it wrote the
    /// table, false when the table already held exactly these rules.
    @discardableResult
    public static func apply(desired: [SNATRule], to control: some SNATControl) throws(DataPlaneError) -> Bool {
        let wanted = SNATRule.canonical(desired)
        if try control.current() == wanted { return false }
        try control.replace(with: wanted)
        return true
    }
}
