import BallastCore
import BallastTestSupport
import Foundation
@testable import NFTables
import Testing

/// The digest NFTablesSNAT writes with the set elements, and the start-up
/// check that reads it instead of the elements, against the host kernel's
/// nf_tables (no IPVS needed), each test in a network namespace of its own.
@Suite(.enabled(if: rootTestsEnabled))
struct NFTablesSNATHostTests {
    static let rules = [
        SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                 destinations: [IPAddress("10.0.0.5")!, IPAddress("10.0.0.6")!]),
        SNATRule(address: IPAddress("2001:db8::10")!, port: 443, protocol: .tcp, destinations: [IPAddress("2001:db8:1::5")!]),
    ]
    static let table = SNATTable(rules: rules)
    static let moved = SNATTable(rules: [
        SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                 destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.7")!]),
        rules[1],
    ])

    func namespace() async throws -> TestNetworkNamespace {
        try #require(geteuid() == 0, "host nftables tests need root (BALLAST_ROOT_TESTS=1 is set)")
        return try await TestNetworkNamespace.make()
    }

    /// The digest set's element as the nft tool prints it (`0x… . 0x… . 0x… . 0x…`).
    func digestElement(_ ns: TestNetworkNamespace) throws -> String {
        let text = try ns.shellSucceeds("nft", "list", "set", "inet", "ballast", "digest")
        let line = try #require(text.split(separator: "\n").first { $0.contains("elements = {") })
        return String(line.split(separator: "{")[1].split(separator: "}")[0]).trimmingCharacters(in: .whitespaces)
    }

    @Test func theDigestIsWrittenWithTheElements() async throws {
        let ns = try await namespace()
        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        #expect(try digestElement(ns) == SNATTableDigest(Self.table).element)
        try await ns.run { () throws(DataPlaneError) in
            try snat.update(SNATTableChange(from: Self.table, to: Self.moved))
        }
        #expect(try digestElement(ns) == SNATTableDigest(Self.moved).element)
        // A fresh object (a restarted daemon) reads the elements back and
        // finds they match the digest written with them.
        let read = try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().current() }
        #expect(read == Self.moved)
    }

    /// A whole-table write goes to a child nft process (NFTProcess), which
    /// runs in the calling thread's namespace: the table appears there and
    /// not on the host.
    @Test func theWholeTableIsWrittenByAChildNftInTheCallersNamespace() async throws {
        let ns = try await namespace()
        #expect(NFTProcess.executable != nil, "the nftables package (nft) is installed where tests run")
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT(tableName: "ballast_child").replace(with: Self.table) }
        #expect(try ns.shellSucceeds("nft", "list", "tables").contains("table inet ballast_child"))
        let host = Process()
        host.executableURL = URL(fileURLWithPath: "/usr/sbin/nft")
        host.arguments = ["list", "tables"]
        let pipe = Pipe()
        host.standardOutput = pipe
        try host.run()
        host.waitUntilExit()
        let hostTables = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(!hostTables.contains("ballast_child"))
    }

    /// What the child nft reports on failure comes back as the error's reason,
    /// summarized as libnftables' own errors are; nothing is written.
    @Test func aChildNftFailureReportsNftsMessage() async throws {
        let ns = try await namespace()
        let executable = try #require(NFTProcess.executable)
        let failed = await #expect(throws: DataPlaneError.self) {
            try await ns.run { () throws(DataPlaneError) in
                try NFTProcess.run("add table inet ballast_bad\nadd chain inet ballast_missing c\n",
                                   executable: executable, operation: "write a broken script")
            }
        }
        #expect(failed?.operation == "write a broken script")
        #expect(failed?.reason.contains("No such file or directory") == true, "\(String(describing: failed))")
        #expect(try !ns.shellSucceeds("nft", "list", "tables").contains("ballast_bad"), "one transaction: nothing written")
    }

    /// An update whose element delete fails (deleted by hand) fails whole:
    /// the digest is not moved either.
    @Test func aFailedUpdateLeavesTheDigestAsItWas() async throws {
        let ns = try await namespace()
        let snat = try NFTablesSNAT()
        try await ns.run { () throws(DataPlaneError) in try snat.replace(with: Self.table) }
        try ns.shellSucceeds("nft", "delete", "element", "inet", "ballast", "masquerade4", "{ 192.0.2.10 . 10.0.0.5 }")
        let failed = await #expect(throws: DataPlaneError.self) {
            try await ns.run { () throws(DataPlaneError) in try snat.update(SNATTableChange(from: Self.table, to: Self.moved)) }
        }
        #expect(failed != nil)
        #expect(try digestElement(ns) == SNATTableDigest(Self.table).element)
        #expect(try ns.shellSucceeds("nft", "list", "set", "inet", "ballast", "masquerade4").contains("10.0.0.7") == false)
    }

    /// The check accepts the table it wrote without reading the elements:
    /// with an element deleted behind its back, it still answers true (it
    /// never looked), while the full listing sees the drift and rejects the
    /// table. This is also the documented limitation: drift made while the
    /// daemon was down is repaired by the first resync, not at start.
    @Test func theCheckDoesNotReadTheElements() async throws {
        let ns = try await namespace()
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().replace(with: Self.table) }
        #expect(try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().holdsAsWritten(Self.table) })
        try ns.shellSucceeds("nft", "delete", "element", "inet", "ballast", "masquerade4", "{ 192.0.2.10 . 10.0.0.5 }")
        let (trusted, listed) = try await ns.run { () throws(DataPlaneError) in
            let snat = try NFTablesSNAT()
            return (try snat.holdsAsWritten(Self.table), try snat.current())
        }
        #expect(trusted)
        #expect(listed == nil)
        // A resync (RememberedSNATControl.forget, then the full read) repairs it.
        let repaired = try await ns.run { () throws(DataPlaneError) in
            let snat = try NFTablesSNAT()
            try SNATReconcile.apply(desired: Self.rules, to: snat)
            return try snat.current()
        }
        #expect(repaired == Self.table)
    }

    @Test func theCheckRejectsAnotherTable() async throws {
        let ns = try await namespace()
        let check: @Sendable (SNATTable, UInt32) async throws -> Bool = { table, mark in
            try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT(mark: mark).holdsAsWritten(table) }
        }
        // No table at all.
        #expect(try await check(SNATTable(), NFTablesSNAT.defaultMark) == false)
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().replace(with: Self.table) }
        // Other desired elements (manifests changed while no daemon ran), no
        // elements, another mark.
        #expect(try await check(Self.moved, NFTablesSNAT.defaultMark) == false)
        #expect(try await check(SNATTable(), NFTablesSNAT.defaultMark) == false)
        #expect(try await check(Self.table, 0x2000_0000) == false)
        #expect(try await check(Self.table, NFTablesSNAT.defaultMark))
        // A rule edited by hand (a counter added to the IPv4 mark rule).
        let handle = try #require(try ns.shellSucceeds("nft", "-a", "list", "chain", "inet", "ballast", "prerouting")
            .split(separator: "\n").first { $0.contains("@mark4") }?.split(separator: " ").last)
        try ns.shellSucceeds("nft", "replace", "rule", "inet", "ballast", "prerouting", "handle", String(handle),
                             "ip", "daddr", ".", "meta", "l4proto", ".", "th", "dport", "@mark4", "counter",
                             "meta", "mark", "set", "meta", "mark", "|", "0x10000000")
        #expect(try await check(Self.table, NFTablesSNAT.defaultMark) == false)
        // The digest emptied by hand.
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().replace(with: Self.table) }
        try ns.shellSucceeds("nft", "flush", "set", "inet", "ballast", "digest")
        #expect(try await check(Self.table, NFTablesSNAT.defaultMark) == false)
        // The empty table Ballast writes for no elements is shown by the terse listing alone.
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().replace(with: SNATTable()) }
        #expect(try await check(SNATTable(), NFTablesSNAT.defaultMark))
        #expect(try await check(Self.table, NFTablesSNAT.defaultMark) == false)
    }

    /// A table of the layout before the digest (four sets, no digest set)
    /// is neither trusted nor read as Ballast's: it is replaced once.
    @Test func theLayoutBeforeTheDigestIsReplacedOnce() async throws {
        let ns = try await namespace()
        let script = try NFTablesSNAT().script(for: Self.table)
        let withoutDigest = script.replacing(/\tset digest \{[^}]*\}[^}]*\}\n/, with: "")
        #expect(withoutDigest != script)
        try ns.shellSucceeds("sh", "-c", "printf '%s' \"$0\" | nft -f -", withoutDigest)
        let (trusted, found, wrote, after) = try await ns.run { () throws(DataPlaneError) in
            let snat = try NFTablesSNAT()
            return (try snat.holdsAsWritten(Self.table), try snat.current(),
                    try SNATReconcile.apply(desired: Self.rules, to: snat), try snat.holdsAsWritten(Self.table))
        }
        #expect(!trusted && found == nil && wrote && after)
    }

    /// Other inet tables pass through the terse listing and stay untouched.
    @Test func otherInetTablesDoNotDisturbTheCheck() async throws {
        let ns = try await namespace()
        try ns.shellSucceeds("sh", "-c", """
            nft -f - <<'NFT'
            table inet firewalld {
            \tset blocked { type ipv4_addr; elements = { 198.51.100.7 } }
            \tchain input {
            \t\ttype filter hook input priority filter; policy accept;
            \t\tip saddr @blocked drop comment "x"
            \t}
            }
            NFT
            """)
        let before = try ns.shellSucceeds("nft", "list", "table", "inet", "firewalld")
        try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().replace(with: Self.table) }
        #expect(try await ns.run { () throws(DataPlaneError) in try NFTablesSNAT().holdsAsWritten(Self.table) })
        #expect(try ns.shellSucceeds("nft", "list", "table", "inet", "firewalld") == before)
    }
}
