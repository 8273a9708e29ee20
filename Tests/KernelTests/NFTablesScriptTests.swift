import BallastCore
import Foundation
@testable import NFTables
import Testing

/// The text NFTablesSNAT writes and the JSON it reads back, without a kernel:
/// the fixture is what nft 1.0.6 printed for the table this script created.
@Suite struct NFTablesScriptTests {
    static let rules = [
        SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp,
                 destinations: [IPAddress("10.0.0.6")!, IPAddress("10.0.0.5")!]),
        SNATRule(address: IPAddress("2001:db8::10")!, port: 53, protocol: .udp,
                 destinations: [IPAddress("2001:db8:1::5")!]),
    ]

    static let listed = #"""
{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "ballast", "handle": 5}}, {"chain": {"family": "inet", "table": "ballast", "name": "prerouting", "handle": 1, "type": "filter", "hook": "prerouting", "prio": -150, "policy": "accept"}}, {"chain": {"family": "inet", "table": "ballast", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "prerouting", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8::10"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"meta": {"key": "mark"}}, 268435456]}}}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 6, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"ct": {"key": "ip daddr", "dir": "original"}}, "right": "192.0.2.10"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"ct": {"key": "proto-dst", "dir": "original"}}, "right": 80}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"set": ["10.0.0.5", "10.0.0.6"]}}}, {"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "==", "left": {"&": [{"meta": {"key": "mark"}}, 268435456]}, "right": 268435456}}, {"match": {"op": "==", "left": {"ct": {"key": "ip6 daddr", "dir": "original"}}, "right": "2001:db8::10"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "udp"}}, {"match": {"op": "==", "left": {"ct": {"key": "proto-dst", "dir": "original"}}, "right": 53}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "daddr"}}, "right": "2001:db8:1::5"}}, {"masquerade": null}]}}]}
"""#

    @Test func scriptReplacesTheWholeTableInOneBuffer() throws {
        let snat = try NFTablesSNAT()
        #expect(snat.script(for: Self.rules) == """
            table inet ballast {}
            delete table inet ballast
            table inet ballast {
            \tcomment "Ballast source NAT for Cluster traffic policy; owned by ballastd, replaced as a whole"
            \tchain prerouting {
            \t\ttype filter hook prerouting priority -150; policy accept;
            \t\tip daddr 192.0.2.10 tcp dport 80 meta mark set meta mark | 0x10000000
            \t\tip6 daddr 2001:db8::10 udp dport 53 meta mark set meta mark | 0x10000000
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\tmeta mark & 0x10000000 == 0x10000000 ct original ip daddr 192.0.2.10 meta l4proto tcp \
            ct original proto-dst 80 ip daddr { 10.0.0.5, 10.0.0.6 } masquerade
            \t\tmeta mark & 0x10000000 == 0x10000000 ct original ip6 daddr 2001:db8::10 meta l4proto udp \
            ct original proto-dst 53 ip6 daddr { 2001:db8:1::5 } masquerade
            \t}
            }

            """)
    }

    @Test func noRulesMeansNoChains() throws {
        let snat = try NFTablesSNAT(tableName: "lb", mark: 0x4)
        #expect(snat.script(for: []).contains("chain") == false)
        #expect(snat.script(for: []).hasPrefix("table inet lb {}\ndelete table inet lb\ntable inet lb {\n"))
    }

    @Test func readsTheRulesBack() throws {
        #expect(try SNATTableJSON.read(Self.listed, table: "ballast", mark: 0x1000_0000) == .rules(SNATRule.canonical(Self.rules)))
        #expect(try SNATTableJSON.listsTable(Self.listed, table: "ballast"))
        #expect(try !SNATTableJSON.listsTable(Self.listed, table: "other"))
    }

    @Test func anotherMarkIsNotOurs() throws {
        guard case .unrecognized(let why) = try SNATTableJSON.read(Self.listed, table: "ballast", mark: 0x2000_0000) else {
            Issue.record("a table with another mark was accepted")
            return
        }
        #expect(why.contains("0x20000000"))
    }

    @Test(arguments: [
        // A rule added by hand to our chain.
        (#""handle": 7,"#, #""handle": 7, "comment": "x","#, false),
        (#"{"masquerade": null}]}}]}"#,
         #"{"masquerade": null}]}}, {"rule": {"family": "inet", "table": "ballast", "chain": "postrouting", "expr": [{"accept": null}]}}]}"#,
         true),
        // The masquerade chain at another priority.
        (#""prio": 100"#, #""prio": 50"#, true),
        // A set nobody asked for.
        (#"{"table": {"family": "inet", "name": "ballast", "handle": 5}}"#,
         #"{"table": {"family": "inet", "name": "ballast", "handle": 5}}, {"set": {"name": "s"}}"#, true),
        // A mark rule without its masquerade rule (UDP 53 is masqueraded as 54).
        (#""dir": "original"}}, "right": 53}"#, #""dir": "original"}}, "right": 54}"#, true),
        // A rule in a chain of its own.
        (#""chain": "postrouting", "handle": 7"#, #""chain": "elsewhere", "handle": 7"#, true),
    ])
    func somethingElseIsUnrecognized(replacing: String, with: String, unrecognized: Bool) throws {
        let edited = Self.listed.replacingOccurrences(of: replacing, with: with)
        #expect(edited != Self.listed)
        let reading = try SNATTableJSON.read(edited, table: "ballast", mark: 0x1000_0000)
        if case .unrecognized = reading { #expect(unrecognized) } else { #expect(!unrecognized) }
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
