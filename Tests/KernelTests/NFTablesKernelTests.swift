import BallastTestSupport
import BallastCore
import Foundation
import NFTables
import Testing

/// NFTablesSNAT against the kernel's nf_tables, each test in its own network
/// namespace, checked with the nft tool as an independent reader.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_KERNEL_TESTS"] == "1",
                "needs root, network namespaces and nf_tables; set BALLAST_KERNEL_TESTS=1"))
struct NFTablesKernelTests {
    static let rules = [
        SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                 destinations: [IPAddress("10.0.0.5")!, IPAddress("10.0.0.6")!]),
        SNATRule(address: IPAddress("192.0.2.10")!, port: 53, protocol: .udp, destinations: [IPAddress("10.0.0.7")!]),
        SNATRule(address: IPAddress("192.0.2.11")!, port: 36412, protocol: .sctp, destinations: [IPAddress("10.0.0.8")!]),
        SNATRule(address: IPAddress("2001:db8::10")!, port: 443, protocol: .tcp,
                 destinations: [IPAddress("2001:db8:1::5")!, IPAddress("2001:db8:1::6")!]),
    ]

    /// Someone else's tables, which must survive everything Ballast does.
    static let foreignTables = """
        table ip filter {
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\ttcp dport 22 accept
        \t}
        }
        table ip ballast {
        \tchain postrouting {
        \t\ttype nat hook postrouting priority srcnat; policy accept;
        \t\tmeta mark 0x00004000 masquerade
        \t}
        }
        table inet other {
        \tset blocked {
        \t\ttype ipv4_addr
        \t\telements = { 198.51.100.7 }
        \t}
        }

        """

    static let table = SNATTable(rules: rules)

    func listTable(_ ns: TestNetworkNamespace) throws -> [[String: Any]] {
        let root = try #require(try ns.json("nft", "-j", "list", "table", "inet", "ballast") as? [String: Any])
        return try #require(root["nftables"] as? [[String: Any]])
    }

    func chains(_ objects: [[String: Any]]) -> [String: [String: Any]] {
        var result: [String: [String: Any]] = [:]
        for case let chain? in objects.map({ $0["chain"] as? [String: Any] }) {
            result[chain["name"] as? String ?? ""] = chain
        }
        return result
    }

    func foreignRuleset(_ ns: TestNetworkNamespace) throws -> String {
        var text = ""
        for table in [["ip", "filter"], ["ip", "ballast"], ["inet", "other"]] {
            text += try ns.shellSucceeds("nft", "list", "table", table[0], table[1])
        }
        return text
    }

    @Test func replaceWritesWhatCurrentReadsBack() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        let (before, after) = try await ns.run { () throws(DataPlaneError) in
            let before = try snat.current()
            try snat.replace(with: Self.table)
            return (before, try snat.current())
        }
        #expect(before == nil)
        #expect(after == Self.table)

        // Read back by nft itself: two base chains at the verified hooks and
        // priorities, one mark and one masquerade rule per family, four sets.
        let objects = try listTable(ns)
        let byName = chains(objects)
        #expect(byName.keys.sorted() == ["postrouting", "prerouting"])
        #expect(byName["prerouting"]?["hook"] as? String == "prerouting")
        #expect(byName["prerouting"]?["prio"] as? Int == -150)
        #expect(byName["postrouting"]?["type"] as? String == "nat")
        #expect(byName["postrouting"]?["prio"] as? Int == 100)
        let rules = objects.compactMap { $0["rule"] as? [String: Any] }
        #expect(rules.filter { $0["chain"] as? String == "prerouting" }.count == 2)
        #expect(rules.filter { $0["chain"] as? String == "postrouting" }.count == 2)
        let sets = objects.compactMap { $0["set"] as? [String: Any] }
        #expect(sets.compactMap { $0["name"] as? String }.sorted()
                    == ["digest", "mark4", "mark6", "masquerade4", "masquerade6"])
        // The digest set holds one element: the digest of the others (four 32-bit words).
        let digest = try #require(sets.first { $0["name"] as? String == "digest" }?["elem"] as? [[String: Any]])
        #expect(digest.count == 1 && (digest.first?["concat"] as? [Any])?.count == 4)

        let text = try ns.shellSucceeds("nft", "list", "table", "inet", "ballast")
        #expect(text.contains("ip6 daddr . meta l4proto . th dport @mark6 meta mark set meta mark | 0x10000000"))
        #expect(text.contains("192.0.2.11 . sctp . 36412"))
        #expect(text.contains("2001:db8::10 . tcp . 443"))
        #expect(text.contains("192.0.2.10 . 10.0.0.6"))
        #expect(text.contains("ct original ip daddr . ip daddr @masquerade4 masquerade"))
    }

    @Test func anUpdateChangesOnlyElementsAndIsReadBack() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        let changed = SNATTable(rules: [
            SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                     destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.9")!]),
            SNATRule(address: IPAddress("198.51.100.1")!, port: 8080, protocol: .udp, destinations: [IPAddress("10.0.0.9")!]),
        ])
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        let handles = try ns.shellSucceeds("nft", "-a", "list", "chain", "inet", "ballast", "prerouting")
        let read = try await ns.run { () throws(DataPlaneError) in
            try snat.update(SNATTableChange(from: Self.table, to: changed))
            return try snat.current()
        }
        #expect(read == changed)
        // The chains and rules are the same objects: only set elements changed.
        #expect(try ns.shellSucceeds("nft", "-a", "list", "chain", "inet", "ballast", "prerouting") == handles)
    }

    @Test func anUpdateOverADriftedTableFailsWholeAndReconcileRepairsIt() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        // Deleted by hand.
        try ns.shellSucceeds("nft", "delete", "element", "inet", "ballast", "masquerade4", "{ 192.0.2.10 . 10.0.0.5 }")
        let withoutWeb = Array(Self.rules.dropFirst())
        let change = SNATTableChange(from: Self.table, to: SNATTable(rules: withoutWeb))
        let (failed, untouched, repaired) = try await ns.run { () throws(DataPlaneError) in
            let failed: Bool
            do {
                try snat.update(change)
                failed = false
            } catch {
                failed = true
            }
            let untouched = try snat.current()
            try SNATReconcile.apply(desired: Self.rules, to: snat)
            return (failed, untouched, try snat.current())
        }
        #expect(failed)
        // The elements no longer match the digest written with them: not
        // Ballast's table any more, so the reconcile replaces it.
        #expect(untouched == nil)
        #expect(repaired == Self.table)
    }

    @Test func aFlushedTableIsNotOursAndIsReplaced() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        try ns.shellSucceeds("nft", "flush", "table", "inet", "ballast")
        let (found, wrote, fixed) = try await ns.run { () throws(DataPlaneError) in
            let found = try snat.current()
            return (found, try SNATReconcile.apply(desired: Self.rules, to: snat), try snat.current())
        }
        // Flushing keeps the sets and chains but empties them of elements and rules.
        #expect(found == nil)
        #expect(wrote)
        #expect(fixed == Self.table)
    }

    @Test func theTableOfBallastBeforeNamedSetsIsReplaced() async throws {
        let ns = try await TestNetworkNamespace.make()
        // What the previous version wrote: one rule with an anonymous set per Service.
        let old = """
            table inet ballast {
            \tchain prerouting {
            \t\ttype filter hook prerouting priority -150; policy accept;
            \t\tip daddr 192.0.2.10 tcp dport 80 meta mark set meta mark | 0x10000000
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\tmeta mark & 0x10000000 == 0x10000000 ct original ip daddr 192.0.2.10 meta l4proto tcp \
            ct original proto-dst 80 ip daddr { 10.0.0.5, 10.0.0.6 } masquerade
            \t}
            }

            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dp-old-\(UUID()).nft")
        try old.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try ns.shellSucceeds("nft", "-f", file.path)
        let snat = try NFTablesSNAT()
        let (found, fixed) = try await ns.run { () throws(DataPlaneError) in
            let found = try snat.current()
            try SNATReconcile.apply(desired: Self.rules, to: snat)
            return (found, try snat.current())
        }
        #expect(found == nil)
        #expect(fixed == Self.table)
        #expect(!(try ns.shellSucceeds("nft", "list", "table", "inet", "ballast")).contains("proto-dst"))
    }

    @Test func otherTablesAreLeftAlone() async throws {
        let ns = try await TestNetworkNamespace.make()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dp-foreign-\(UUID()).nft")
        try Self.foreignTables.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try ns.shellSucceeds("nft", "-f", file.path)
        let foreign = try foreignRuleset(ns)

        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in
            try snat.replace(with: Self.table)
            try snat.update(SNATTableChange(from: Self.table, to: SNATTable(rules: Array(Self.rules.prefix(1)))))
            try snat.replace(with: SNATTable())
            try snat.removeTable()
        }
        #expect(try foreignRuleset(ns) == foreign)
        #expect(try ns.shell("nft", "list", "table", "inet", "ballast").status != 0)
    }

    @Test func replacingWithTheSameRulesChangesNothingAndReconcileWritesNothing() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        let first = try ns.shellSucceeds("nft", "list", "ruleset")
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: SNATTable(rules: Self.rules.reversed())) }
        #expect(try ns.shellSucceeds("nft", "list", "ruleset") == first)

        // A restarted daemon finds the table right and leaves it alone: the
        // object handles (new for every object a transaction creates) stay.
        let handles = try ns.shellSucceeds("nft", "-a", "list", "ruleset")
        let wrote = try await ns.run { () throws(DataPlaneError) in
            try SNATReconcile.apply(desired: Self.rules, to: try NFTablesSNAT())
        }
        #expect(!wrote)
        #expect(try ns.shellSucceeds("nft", "-a", "list", "ruleset") == handles)
    }

    @Test func noRulesLeavesAnEmptyTableWithoutHooks() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT()
        let read = try await ns.run { () throws(DataPlaneError) in
            try snat.replace(with: Self.table)
            try snat.replace(with: SNATTable())
            return try snat.current()
        }
        #expect(read == SNATTable())
        #expect(chains(try listTable(ns)).isEmpty)
    }

    @Test func aTableItDidNotWriteReadsAsNilAndIsReplaced() async throws {
        let ns = try await TestNetworkNamespace.make()
        let theirs = try NFTablesSNAT(mark: 0x4000)
        try await ns.run { () throws(DataPlaneError) in try theirs.replace(with: Self.table) }
        try ns.shellSucceeds("nft", "add", "rule", "inet", "ballast", "postrouting", "counter")

        let snat = try NFTablesSNAT()
        let (found, fixed) = try await ns.run { () throws(DataPlaneError) in
            let found = try snat.current()
            try snat.replace(with: Self.table)
            return (found, try snat.current())
        }
        #expect(found == nil)
        #expect(fixed == Self.table)
        #expect(!(try ns.shellSucceeds("nft", "list", "table", "inet", "ballast")).contains("0x00004000"))
    }

    @Test func removeTableIsIdempotent() async throws {
        let ns = try await TestNetworkNamespace.make()
        let snat = try NFTablesSNAT(tableName: "dp_snat")
        let read = try await ns.run { () throws(DataPlaneError) in
            try snat.replace(with: Self.table)
            try snat.removeTable()
            try snat.removeTable()
            return try snat.current()
        }
        #expect(read == nil)
        #expect(try ns.shellSucceeds("nft", "list", "tables").isEmpty)
    }

    @Test func forwardingIsSetInTheCallersNamespaceOnly() async throws {
        let ns = try await TestNetworkNamespace.make()
        let hostBefore = try String(contentsOfFile: DataPlaneSysctl.forwardingPath(.ipv4), encoding: .utf8)
        try await ns.run { () throws(DataPlaneError) in
            try DataPlaneSysctl.enableForwarding(.ipv4)
            try DataPlaneSysctl.enableForwarding(.ipv6)
            try DataPlaneSysctl.enableForwarding(.ipv4)
        }
        #expect(try ns.shellSucceeds("cat", DataPlaneSysctl.forwardingPath(.ipv4)) == "1\n")
        #expect(try ns.shellSucceeds("cat", DataPlaneSysctl.forwardingPath(.ipv6)) == "1\n")
        #expect(try String(contentsOfFile: DataPlaneSysctl.forwardingPath(.ipv4), encoding: .utf8) == hostBefore)
    }
}
