import BallastCore
import BallastTestSupport
import Foundation
@testable import NFTables
import Testing

/// The text NFTablesSNAT writes and the JSON it reads back, without a kernel:
/// the fixtures are what nft 1.0.6 printed (`nft -j list table inet ballast`)
/// for the table `scriptReplacesTheWholeTableInOneBuffer` shows, and for it
/// after its IPv6 elements were deleted, as Ballast wrote it before the
/// digest set; `withDigest` adds the digest set as nft prints it.
@Suite struct NFTablesScriptTests {
    static let rules = [
        SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                 destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.5")!]),
        SNATRule(address: IPAddress("2001:db8::10")!, port: 53, protocol: .udp,
                 destinations: [IPAddress("2001:db8:1::5")!]),
    ]
    static let table = SNATTable(rules: rules)
    static let v4Only = SNATTable(rules: [rules[0]])

    static let listed = withDigest(listedBeforeDigest, of: table)
    static let listedV4Only = withDigest(listedV4OnlyBeforeDigest, of: v4Only)

    /// `listing` with the digest set holding `table`'s digest, where nft lists it: after the other sets.
    static func withDigest(_ listing: String, of table: SNATTable) -> String {
        let words = SNATTableDigest(table).words.map(String.init).joined(separator: ", ")
        let set = #"{"set": {"family": "inet", "name": "digest", "table": "ballast", "type": ["mark", "mark", "mark", "mark"], "handle": 11, "elem": [{"concat": [\#(words)]}]}}, "#
        let chain = listing.range(of: #"{"chain": "#)!
        return listing.replacingCharacters(in: chain.lowerBound..<chain.lowerBound, with: set)
    }

    static let listedBeforeDigest = #"""
{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "ballast", "handle": 3}}, {"set": {"family": "inet", "name": "mark4", "table": "ballast", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 3, "elem": [{"concat": ["192.0.2.10", "tcp", 80]}]}}, {"set": {"family": "inet", "name": "mark6", "table": "ballast", "type": ["ipv6_addr", "inet_proto", "inet_service"], "handle": 4, "elem": [{"concat": ["2001:db8::10", "udp", 53]}]}}, {"set": {"family": "inet", "name": "masquerade4", "table": "ballast", "type": ["ipv4_addr", "ipv4_addr"], "handle": 5, "elem": [{"concat": ["192.0.2.10", "10.0.0.5"]}, {"concat": ["192.0.2.10", "10.0.0.6"]}]}}, {"set": {"family": "inet", "name": "masquerade6", "table": "ballast", "type": ["ipv6_addr", "ipv6_addr"], "handle": 6, "elem": [{"concat": ["2001:db8::10", "2001:db8:1::5"]}]}}, {"chain": {"family": "inet", "table": "ballast", "name": "prerouting", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "ballast", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 7, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "right": "@mark4"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 8, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "daddr"}}, {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "right": "@mark6"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 9, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"concat": [{"ct": {"key": "ip daddr", "dir": "original"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@masquerade4"}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 10, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"concat": [{"ct": {"key": "ip6 daddr", "dir": "original"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@masquerade6"}}, {"masquerade": null}]}}]}
"""#

    static let listedV4OnlyBeforeDigest = #"""
{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "ballast", "handle": 3}}, {"set": {"family": "inet", "name": "mark4", "table": "ballast", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 3, "elem": [{"concat": ["192.0.2.10", "tcp", 80]}]}}, {"set": {"family": "inet", "name": "mark6", "table": "ballast", "type": ["ipv6_addr", "inet_proto", "inet_service"], "handle": 4}}, {"set": {"family": "inet", "name": "masquerade4", "table": "ballast", "type": ["ipv4_addr", "ipv4_addr"], "handle": 5, "elem": [{"concat": ["192.0.2.10", "10.0.0.5"]}, {"concat": ["192.0.2.10", "10.0.0.6"]}]}}, {"set": {"family": "inet", "name": "masquerade6", "table": "ballast", "type": ["ipv6_addr", "ipv6_addr"], "handle": 6}}, {"chain": {"family": "inet", "table": "ballast", "name": "prerouting", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "ballast", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 7, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "right": "@mark4"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 8, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip6", "field": "daddr"}}, {"meta": {"key": "l4proto"}}, {"payload": {"protocol": "th", "field": "dport"}}]}, "right": "@mark6"}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 9, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"concat": [{"ct": {"key": "ip daddr", "dir": "original"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@masquerade4"}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 10, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"concat": [{"ct": {"key": "ip6 daddr", "dir": "original"}}, {"payload": {"protocol": "ip6", "field": "daddr"}}]}, "right": "@masquerade6"}}, {"masquerade": null}]}}]}
"""#

    /// What Ballast wrote before named sets (one rule and anonymous set per
    /// Service), for the same rules.
    static let oldShape = #"""
{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "ballast", "handle": 5}}, {"chain": {"family": "inet", "table": "ballast", "name": "prerouting", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "ballast", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 6, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"ct": {"key": "ip daddr", "dir": "original"}}, "right": "192.0.2.10"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"ct": {"key": "proto-dst", "dir": "original"}}, "right": 80}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"set": ["10.0.0.5", "10.0.0.6"]}}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"ct": {"key": "ip6 daddr", "dir": "original"}}, "right": "2001:db8::10"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"match": {"op": "==", "left": {"ct": {"key": "proto-dst", "dir": "original"}}, "right": 53}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8:1::5"}}, {"masquerade": null}]}}]}
"""#

    @Test func scriptReplacesTheWholeTableInOneBuffer() throws {
        let snat = try NFTablesSNAT()
        #expect(snat.script(for: Self.table) == """
            table inet ballast {}
            delete table inet ballast
            table inet ballast {
            \tcomment "Ballast source NAT for Cluster traffic policy; owned by ballastd, replaced as a whole"
            \tset mark4 {
            \t\ttype ipv4_addr . inet_proto . inet_service
            \t\telements = { 192.0.2.10 . 6 . 80 }
            \t}
            \tset mark6 {
            \t\ttype ipv6_addr . inet_proto . inet_service
            \t\telements = { 2001:db8::10 . 17 . 53 }
            \t}
            \tset masquerade4 {
            \t\ttype ipv4_addr . ipv4_addr
            \t\telements = { 192.0.2.10 . 10.0.0.5,
            \t\t\t192.0.2.10 . 10.0.0.6 }
            \t}
            \tset masquerade6 {
            \t\ttype ipv6_addr . ipv6_addr
            \t\telements = { 2001:db8::10 . 2001:db8:1::5 }
            \t}
            \tset digest {
            \t\ttype mark . mark . mark . mark
            \t\telements = { \(SNATTableDigest(Self.table).element) }
            \t}
            \tchain prerouting {
            \t\ttype filter hook prerouting priority -150; policy accept;
            \t\tip daddr . meta l4proto . th dport @mark4 meta mark set meta mark | 0x10000000
            \t\tip6 daddr . meta l4proto . th dport @mark6 meta mark set meta mark | 0x10000000
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\tmeta mark & 0x10000000 == 0x10000000 ct original ip daddr . ip daddr @masquerade4 masquerade
            \t\tmeta mark & 0x10000000 == 0x10000000 ct original ip6 daddr . ip6 daddr @masquerade6 masquerade
            \t}
            }

            """)
    }

    @Test func emptySetsAreDeclaredWithoutElements() throws {
        let script = try NFTablesSNAT().script(for: Self.v4Only)
        #expect(script.contains("\tset mark6 {\n\t\ttype ipv6_addr . inet_proto . inet_service\n\t}\n"))
    }

    @Test func noElementsMeansNoSetsAndNoChains() throws {
        let snat = try NFTablesSNAT(tableName: "lb", mark: 0x4)
        #expect(snat.script(for: SNATTable()).contains("chain") == false)
        #expect(snat.script(for: SNATTable()).contains("set") == false)
        #expect(snat.script(for: SNATTable()).hasPrefix("table inet lb {}\ndelete table inet lb\ntable inet lb {\n"))
    }

    @Test func anUpdateDeletesThenAddsElementsInOneBuffer() {
        let change = SNATTableChange(from: Self.table, to: SNATTable(rules: [
            SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                     destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.7")!]),
            SNATRule(address: IPAddress("192.0.2.11")!, port: 443, protocol: .sctp, destinations: [IPAddress("10.0.0.7")!]),
        ]))
        let digest = SNATTableDigest(Self.table).applying(change)
        #expect(SNATTableText.updateScript(table: "ballast", change: change, digest: digest) == """
            delete element inet ballast mark6 { 2001:db8::10 . 17 . 53 }
            delete element inet ballast masquerade4 { 192.0.2.10 . 10.0.0.5 }
            delete element inet ballast masquerade6 { 2001:db8::10 . 2001:db8:1::5 }
            add element inet ballast mark4 { 192.0.2.11 . 132 . 443 }
            add element inet ballast masquerade4 { 192.0.2.10 . 10.0.0.7, 192.0.2.11 . 10.0.0.7 }
            flush set inet ballast digest
            add element inet ballast digest { \(digest.element) }

            """)
        // Elements before the change unknown: the digest set is left empty,
        // so the table no longer vouches for its elements.
        #expect(SNATTableText.updateScript(table: "ballast", change: change, digest: nil).hasSuffix(
            "add element inet ballast masquerade4 { 192.0.2.10 . 10.0.0.7, 192.0.2.11 . 10.0.0.7 }\nflush set inet ballast digest\n"))
    }

    // MARK: - Digest

    @Test func theDigestDependsOnTheElementsOnly() {
        let shuffled = SNATTable(rules: Self.rules.reversed())
        #expect(SNATTableDigest(shuffled) == SNATTableDigest(Self.table))
        #expect(SNATTableDigest(Self.v4Only) != SNATTableDigest(Self.table))
        #expect(SNATTableDigest(SNATTable()) == SNATTableDigest(high: 0, low: 0))
        // One element more or less, one port or protocol changed.
        var oneMore = Self.table
        oneMore.masquerades.insert(SNATPair(address: IPAddress("192.0.2.10")!, destination: IPAddress("10.0.0.7")!))
        var otherPort = Self.table
        otherPort.marks = [SNATMatch(address: IPAddress("192.0.2.10")!, protocol: .tcp, port: 81),
                           SNATMatch(address: IPAddress("2001:db8::10")!, protocol: .udp, port: 53)]
        var otherProtocol = Self.table
        otherProtocol.marks = [SNATMatch(address: IPAddress("192.0.2.10")!, protocol: .udp, port: 80),
                               SNATMatch(address: IPAddress("2001:db8::10")!, protocol: .udp, port: 53)]
        let digests = Set([Self.table, oneMore, otherPort, otherProtocol].map(SNATTableDigest.init))
        #expect(digests.count == 4)
    }

    /// Fixed values: the digest is written into the kernel and compared by a
    /// later process, possibly of a later version, so it must never change
    /// by accident (a deliberate change bumps `SNATTableDigest.version`).
    @Test func theDigestIsStableAcrossProcesses() {
        #expect(SNATTableDigest(Self.table).element == "0x2bc971ab . 0x33cf0dc2 . 0x6ee170b0 . 0xd30a22f1")
    }

    @Test(arguments: 0..<20)
    func anUpdateMovesTheDigestByItsChange(seed: Int) {
        var generator = SplitMix64(seed: UInt64(seed))
        let before = Self.randomTable(&generator)
        let after = Self.randomTable(&generator)
        let change = SNATTableChange(from: before, to: after)
        #expect(SNATTableDigest(before).applying(change) == SNATTableDigest(after))
        #expect(SNATTableDigest(words: SNATTableDigest(after).words) == SNATTableDigest(after))
    }


    /// Overlapping tables of both families: 8 VIPs, a few ports and endpoints each.
    static func randomTable(_ g: inout SplitMix64) -> SNATTable {
        var rules: [SNATRule] = []
        for vip in 0..<8 where Bool.random(using: &g) {
            let v6 = vip >= 4
            let address = IPAddress(v6 ? "2001:db8::\(vip)" : "192.0.2.\(vip)")!
            let destinations = (0..<4).filter { _ in Bool.random(using: &g) }
                .map { IPAddress(v6 ? "2001:db8:1::\($0)" : "10.0.0.\($0)")! }
            rules.append(SNATRule(address: address, port: UInt16.random(in: 80...82, using: &g),
                                  protocol: Bool.random(using: &g) ? .tcp : .udp, destinations: destinations))
        }
        return SNATTable(rules: rules)
    }

    @Test func readsTheDigestSet() throws {
        let table = SNATTableDigest(Self.table)
        let words = table.words.map(String.init).joined(separator: ", ")
        let listing = #"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "inet", "name": "digest", "table": "ballast", "type": ["mark", "mark", "mark", "mark"], "handle": 11, "elem": [{"concat": [\#(words)]}]}}]}"#
        #expect(try SNATTableJSON.digest(listing) == table)
        // Emptied by an update that did not know the elements, or two elements.
        let emptied = #"{"nftables": [{"set": {"family": "inet", "name": "digest", "table": "ballast", "type": ["mark", "mark", "mark", "mark"], "handle": 11}}]}"#
        #expect(try SNATTableJSON.digest(emptied) == nil)
        let two = listing.replacingOccurrences(of: "]}]}}", with: #"]}, {"concat": [1, 2, 3, 4]}]}}"#)
        #expect(try SNATTableJSON.digest(two) == nil)
    }

    // MARK: - Terse listing

    /// `nft -t -j list ruleset inet`: every inet table, sets without elements.
    static func terse(_ listing: String) -> String {
        listing.replacing(/, "elem": \[(\{"concat": \[[^\]]*\]\}(, )?)*\]/, with: "")
    }

    static let foreignTable = #"{"table": {"family": "inet", "name": "firewalld", "handle": 1}}, {"set": {"family": "inet", "name": "blocked", "table": "firewalld", "type": "ipv4_addr", "handle": 2}}, {"chain": {"family": "inet", "table": "firewalld", "name": "input", "handle": 3, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "firewalld", "chain": "input", "handle": 4, "comment": "x", "expr": [{"accept": null}]}}, "#

    @Test func theTerseListingShowsTheShapeAmongOtherTables() throws {
        let terse = Self.terse(Self.listed)
        #expect(!terse.contains("elem") && !terse.contains("192.0.2.10\", \"10.0.0.5"))
        let withForeign = terse.replacingOccurrences(of: #"{"table": {"family": "inet", "name": "ballast""#,
                                                     with: Self.foreignTable + #"{"table": {"family": "inet", "name": "ballast""#)
        #expect(withForeign.contains("firewalld"))
        #expect(try SNATTableJSON.shape(withForeign, table: "ballast", mark: 0x1000_0000) == .sets)
        #expect(try SNATTableJSON.shape(withForeign, table: "other", mark: 0x1000_0000) == .absent)
        let empty = #"{"nftables": [{"metainfo": {"version": "1.0.6"}}, \#(Self.foreignTable){"table": {"family": "inet", "name": "ballast", "handle": 3}}]}"#
        #expect(try SNATTableJSON.shape(empty, table: "ballast", mark: 0x1000_0000) == .empty)
        guard case .unrecognized = try SNATTableJSON.shape(Self.terse(Self.listed), table: "ballast", mark: 0x2000_0000) else {
            Issue.record("a table with another mark passed the terse check")
            return
        }
    }

    @Test func theLayoutBeforeTheDigestIsNotOurs() throws {
        let terse = Self.terse(Self.listedBeforeDigest)
        #expect(try SNATTableJSON.shape(terse, table: "ballast", mark: 0x1000_0000)
                    == .unrecognized("no digest set (the layout of Ballast before it)"))
        #expect(try SNATTableJSON.read(Self.listedBeforeDigest, table: "ballast", mark: 0x1000_0000)
                    == .unrecognized("no digest set (the layout of Ballast before it)"))
    }

    /// An element deleted by hand, or a digest of other elements: the full
    /// listing (every resync) does not accept the table, so it is replaced.
    @Test func elementsThatDoNotMatchTheirDigestAreNotOurs() throws {
        let deletedByHand = Self.listed.replacingOccurrences(of: #"{"concat": ["192.0.2.10", "10.0.0.5"]}, "#, with: "")
        #expect(deletedByHand != Self.listed)
        let staleDigest = Self.withDigest(Self.listedBeforeDigest, of: Self.v4Only)
        for listing in [deletedByHand, staleDigest] {
            #expect(try SNATTableJSON.read(listing, table: "ballast", mark: 0x1000_0000)
                        == .unrecognized("elements that do not match the digest written with them"))
            // The terse check cannot see elements: that is the digest's job.
            #expect(try SNATTableJSON.shape(Self.terse(listing), table: "ballast", mark: 0x1000_0000) == .sets)
        }
    }

    @Test func readsTheSetsBack() throws {
        #expect(try SNATTableJSON.read(Self.listed, table: "ballast", mark: 0x1000_0000) == .table(Self.table, digest: SNATTableDigest(Self.table)))
        #expect(try SNATTableJSON.read(Self.listedV4Only, table: "ballast", mark: 0x1000_0000) == .table(Self.v4Only, digest: SNATTableDigest(Self.v4Only)))
    }

    @Test func anEmptyTableIsOurs() throws {
        let empty = #"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "inet", "name": "ballast", "handle": 3}}]}"#
        #expect(try SNATTableJSON.read(empty, table: "ballast", mark: 0x1000_0000) == .table(SNATTable(), digest: SNATTableDigest(high: 0, low: 0)))
    }

    @Test func theLayoutOfBallastBeforeNamedSetsIsNotOurs() throws {
        guard case .unrecognized = try SNATTableJSON.read(Self.oldShape, table: "ballast", mark: 0x1000_0000) else {
            Issue.record("the one-rule-per-Service table was accepted")
            return
        }
    }

    @Test func anotherMarkIsNotOurs() throws {
        guard case .unrecognized(let why) = try SNATTableJSON.read(Self.listed, table: "ballast", mark: 0x2000_0000) else {
            Issue.record("a table with another mark was accepted")
            return
        }
        #expect(why.contains("0x20000000"))
    }

    @Test(arguments: [
        // A comment on a rule.
        (#""handle": 7,"#, #""handle": 7, "comment": "x","#),
        // A rule added by hand to our chain.
        (#"{"masquerade": null}]}}]}"#,
         #"{"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "expr": [{"accept": null}]}}]}"#),
        // The masquerade chain at another priority.
        (#""prio": 100"#, #""prio": 50"#),
        // A set nobody asked for.
        (#"{"table": {"family": "inet", "name": "ballast", "handle": 3}}"#,
         #"{"table": {"family": "inet", "name": "ballast", "handle": 3}}, {"set": {"name": "s"}}"#),
        // A set with a flag, or of another type.
        (#""name": "mark4", "table": "ballast", "#, #""name": "mark4", "table": "ballast", "flags": ["interval"], "#),
        (#"["ipv4_addr", "ipv4_addr"]"#, #"["ipv4_addr", "ipv4_addr", "inet_service"]"#),
        // An element with a timeout or comment, or of the wrong family.
        (#"{"concat": ["192.0.2.10", "tcp", 80]}"#,
         #"{"elem": {"val": {"concat": ["192.0.2.10", "tcp", 80]}, "comment": "x"}}"#),
        (#"{"concat": ["192.0.2.10", "10.0.0.5"]}"#, #"{"concat": ["2001:db8::1", "10.0.0.5"]}"#),
        // A rule in a chain of its own.
        (#""chain": "postrouting", "handle": 9"#, #""chain": "elsewhere", "handle": 9"#),
        // A mark rule that looks up the masquerade set.
        (#""right": "@mark4""#, #""right": "@masquerade4""#),
    ])
    func somethingElseIsUnrecognized(replacing: String, with: String) throws {
        let edited = Self.listed.replacingOccurrences(of: replacing, with: with)
        #expect(edited != Self.listed)
        let reading = try? SNATTableJSON.read(edited, table: "ballast", mark: 0x1000_0000)
        if case .table(let contents, _)? = reading { Issue.record("accepted as \(contents)") }
    }

    @Test func aMissingRuleIsNotOurs() throws {
        // The IPv6 masquerade rule, the last entry, deleted by hand.
        let cut = try #require(Self.listed.range(of: #", {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 10"#))
        let edited = Self.listed[..<cut.lowerBound] + "]}"
        guard case .unrecognized = try SNATTableJSON.read(String(edited), table: "ballast", mark: 0x1000_0000) else {
            Issue.record("a table without its IPv6 masquerade rule was accepted")
            return
        }
    }

    @Test func setsAndChainsWithoutElementsAreNotOurs() throws {
        // Even with the digest of no elements: chains hooked to empty sets are not what Ballast writes.
        let emptied = Self.withDigest(Self.terse(Self.listedV4OnlyBeforeDigest), of: SNATTable())
        #expect(emptied.contains("192.0.2.10") == false && emptied.contains(#""name": "digest""#))
        guard case .unrecognized = try SNATTableJSON.read(emptied, table: "ballast", mark: 0x1000_0000) else {
            Issue.record("hooks over empty sets were accepted")
            return
        }
    }

    @Test func parsesJSONValuesAndEscapes() throws {
        let value = try JSONValue(parsing: #" {"a\n\u00e9\ud83d\ude00": [1, -2.5e3, true, false, null, "x\"y\\\/"], "b": {}} "#)
        #expect(value == .object([
            "a\né😀": .array([.number(1), .number(-2500), .bool(true), .bool(false), .null, .string("x\"y\\/")]),
            "b": .object([:]),
        ]))
    }

    @Test(arguments: ["", "{", "[1,]", #"{"a" 1}"#, #""\ud800""#, "01x", "[1] 2", "\"a\u{1}\"", "tru", #""\q""#])
    func rejectsMalformedJSON(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: text) }
    }

    @Test(arguments: ["", "1table", "bad name", "bad;name", String(repeating: "t", count: 65)])
    func rejectsTableNamesThatAreNotIdentifiers(_ name: String) {
        #expect(throws: DataPlaneError.self) { try NFTablesSNAT(tableName: name) }
    }

    @Test func rejectsAnEmptyMark() {
        #expect(throws: DataPlaneError.self) { try NFTablesSNAT(mark: 0) }
    }
}
