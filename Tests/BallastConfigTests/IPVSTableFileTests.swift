import BallastConfig
import BallastCore
import Foundation
import Testing

func fixture(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures"))
    return url.path
}

func addr(_ s: String) -> IPAddress { IPAddress(s)! }

/// A file with one problem (or several), and every diagnostic it must produce.
struct BadTable: Sendable, CustomTestStringConvertible {
    var name: String
    var yaml: String
    var errors: [String]
    var file = "t.yaml"
    var testDescription: String { name }
}

let badTables: [BadTable] = [
    BadTable(name: "empty file", yaml: "",
             errors: ["t.yaml: error: the file is empty; it needs a 'services' list (see docs/ipvs-table.md)"]),
    BadTable(name: "YAML syntax error", yaml: "services:\n  - address: [1\n",
             errors: ["t.yaml:3:1: error: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 2)"]),
    BadTable(name: "JSON syntax error names JSON", yaml: "{\"services\": [}\n", errors: [
        "t.json:1:15: error: invalid JSON: did not find expected node content (while parsing a flow node at line 1)",
    ], file: "t.json"),
    BadTable(name: "top level is a list", yaml: "- a\n",
             errors: ["t.yaml:1:1: error: the top level must be a mapping (key: value pairs), found a list"]),
    BadTable(name: "no services key", yaml: "owns: {fwmarks: [1]}\n",
             errors: ["t.yaml:1:1: error: the file has no 'services'; add it"]),
    BadTable(name: "unknown key with a suggestion", yaml: """
        services:
          - adress: 192.0.2.10
            port: 99999
        """, errors: [
            "t.yaml:2:5: error: unknown key 'adress' in a service; did you mean 'address'? (valid keys: address, port, protocol, fwmark, family, scheduler, flags, persistence, destinations)",
            "t.yaml:2:5: error: a service needs 'address' (with 'port' and 'protocol') or 'fwmark' (with 'family')",
            "t.yaml:3:11: error: port must be a whole number from 0 to 65535, found 99999",
        ]),
    BadTable(name: "snake_case key suggests camelCase", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            destinations: [{address: 10.0.0.1, upper_threshold: 5}]
        """, errors: [
            "t.yaml:4:40: error: unknown key 'upper_threshold' in a destination; did you mean 'upperThreshold'? (valid keys: address, port, weight, forward, upperThreshold, lowerThreshold)",
        ]),
    BadTable(name: "bad addresses", yaml: """
        services:
          - address: 192.0.2.300
            port: 80
            destinations: [{address: web.example}]
        """, errors: [
            "t.yaml:2:14: error: service address '192.0.2.300' is not an IPv4 or IPv6 address (names are not resolved)",
            "t.yaml:4:30: error: destination address 'web.example' is not an IPv4 or IPv6 address (names are not resolved)",
        ]),
    BadTable(name: "ports out of range, quoted, negative", yaml: """
        services:
          - {address: 192.0.2.10, port: 70000}
          - {address: 192.0.2.11, port: "80"}
          - {address: 192.0.2.12, port: 80, destinations: [{address: 10.0.0.1, port: -1}]}
        """, errors: [
            "t.yaml:2:33: error: port must be a whole number from 0 to 65535, found 70000",
            "t.yaml:3:33: error: port must be a whole number from 0 to 65535 written without quotes, found the string \"80\"",
            "t.yaml:4:78: error: destination port must be a whole number from 1 to 65535, found -1",
        ]),
    BadTable(name: "unknown scheduler, protocol and forward method", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            protocol: tpc
            scheduler: wrr2
            destinations: [{address: 10.0.0.1, forward: nat}]
        """, errors: [
            "t.yaml:4:15: error: unknown protocol 'tpc' (valid: tcp, udp, sctp)",
            "t.yaml:5:16: error: unknown scheduler 'wrr2'; did you mean 'wrr'? (valid: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)",
            "t.yaml:6:49: error: unknown forward method 'nat' (valid: masq, route, tunnel)",
        ]),
    BadTable(name: "duplicate services and destinations", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            destinations:
              - {address: 10.0.0.1, port: 80}
              - {address: 10.0.0.1}
          - {address: 192.0.2.10, port: 80, protocol: tcp}
        """, errors: [
            "t.yaml:6:9: error: duplicate destination 10.0.0.1:80 in TCP 192.0.2.10:80 (first defined at line 5); keep one",
            "t.yaml:7:15: error: duplicate service TCP 192.0.2.10:80 (first defined at line 2); merge the two entries",
        ]),
    BadTable(name: "fwmark without family, with port", yaml: """
        services:
          - fwmark: 7
            port: 80
        """, errors: [
            "t.yaml:2:13: error: a fwmark service needs 'family: ipv4' or 'family: ipv6'",
            "t.yaml:3:5: error: 'port' has no meaning for a fwmark service (the mark selects the packets); remove it",
        ]),
    BadTable(name: "fwmark zero, address and fwmark together, family with address", yaml: """
        services:
          - {fwmark: 0, family: ipv4}
          - {fwmark: 1, address: 192.0.2.1, port: 1}
          - {address: 192.0.2.2, port: 1, family: ipv6}
        """, errors: [
            "t.yaml:2:14: error: fwmark must be a whole number from 1 to 4294967295, found 0",
            "t.yaml:3:6: error: a service has either 'address' or 'fwmark', not both",
            "t.yaml:4:35: error: 'family' is only for fwmark services (an address has its own family); remove it",
        ]),
    BadTable(name: "flags that do not fit", yaml: """
        services:
          - {address: 192.0.2.10, port: 80, flags: [sh-port, one-packet, bogus]}
          - {address: 192.0.2.10, port: 53, protocol: udp, scheduler: sh, flags: [sh-port, sh-port]}
        """, errors: [
            "t.yaml:2:45: error: flag 'sh-port' only applies to scheduler sh (this service uses rr)",
            "t.yaml:2:54: error: flag 'one-packet' only applies to UDP services (this one is TCP)",
            "t.yaml:2:66: error: unknown flag 'bogus' (valid with rr: one-packet, flag-1, flag-2, flag-3)",
            "t.yaml:3:84: error: flag 'sh-port' is listed twice; keep one",
        ]),
    BadTable(name: "persistence limits and port 0", yaml: """
        services:
          - {address: 192.0.2.10, port: 80, persistence: {timeout: 0, netmask: 33}}
          - {address: "2001:db8::1", port: 80, persistence: {netmask: 0}}
          - {address: 192.0.2.11, port: 0}
        """, errors: [
            "t.yaml:2:60: error: persistence timeout (seconds) must be a whole number from 1 to 2678400, found 0",
            "t.yaml:2:72: error: persistence netmask (a prefix length) must be a whole number from 0 to 32, found 33",
            "t.yaml:3:63: error: persistence netmask (a prefix length) must be a whole number from 1 to 128, found 0",
            "t.yaml:4:33: error: port 0 (all ports) needs 'persistence', as in the kernel; add persistence or use a port from 1 to 65535",
        ]),
    BadTable(name: "destination rules", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            destinations:
              - {address: 10.0.0.1, port: 8080, forward: route}
              - {address: "2001:db8::5"}
              - {address: 10.0.0.2, upperThreshold: 5, lowerThreshold: 6}
              - {address: 10.0.0.3, weight: -1}
              - {port: 80}
              - 10.0.0.4
        """, errors: [
            "t.yaml:5:35: error: 'forward: route' delivers packets to the service's port 80 unchanged, so port 8080 cannot apply; remove 'port' or set it to 80",
            "t.yaml:6:19: error: destination 2001:db8::5 is IPv6 but the service is IPv4; only 'forward: tunnel' can cross families",
            "t.yaml:7:64: error: lowerThreshold 6 is above upperThreshold 5; the kernel requires lower ≤ upper (set upperThreshold, or lower this)",
            "t.yaml:8:37: error: weight must be a whole number from 0 to 2147483647, found -1",
            "t.yaml:9:9: error: a destination has no 'address'; add it",
            "t.yaml:10:9: error: a destination must be a mapping (key: value pairs), found '10.0.0.4'",
        ]),
    BadTable(name: "owns: bad prefixes and services outside it", yaml: """
        owns:
          addresses: [192.0.2.1/24, bogus]
          fwmarks: [3]
        services:
          - {address: 198.51.100.1, port: 80}
          - {fwmark: 4, family: ipv6}
        """, errors: [
            "t.yaml:2:15: error: \"192.0.2.1/24\" has host bits set; did you mean 192.0.2.0/24? (write a prefix such as 192.0.2.0/24)",
            "t.yaml:2:29: error: \"bogus\" is not an IPv4 or IPv6 address (write a prefix such as 192.0.2.0/24)",
            "t.yaml:5:15: error: TCP 198.51.100.1:80 is outside 'owns' (fwmark 3); extend 'owns' or remove the service",
            "t.yaml:6:14: error: FWM 4 (IPv6) is outside 'owns' (fwmark 3); extend 'owns' or remove the service",
        ]),
    BadTable(name: "a key given twice", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            port: 81
        """, errors: ["t.yaml:3:5: error: a key is given twice in one mapping: 'port'; keep one of them"]),
]

@Suite struct IPVSTableFileTests {
    @Test func fullFixtureReadsEveryKey() throws {
        let table = try IPVSTableFile.load(path: fixture("ipvs-table-full.yaml"))
        let expected: [IPVSVirtualService] = [
            IPVSVirtualService(
                key: .address(addr("192.0.2.10"), port: 80, protocol: .tcp), scheduler: .wlc,
                persistence: IPVSPersistence(timeout: 10800, netmaskPrefix: 24),
                destinations: [
                    IPVSDestination(address: addr("10.0.0.5"), port: 8080, weight: 3, upperThreshold: 100,
                                    lowerThreshold: 10),
                    IPVSDestination(address: addr("10.0.0.6"), port: 8080),
                ]),
            IPVSVirtualService(
                key: .address(addr("192.0.2.10"), port: 53, protocol: .udp), scheduler: .sh,
                flags: [.onePacket, .shPort],
                destinations: [IPVSDestination(address: addr("10.0.0.7"), port: 53)]),
            IPVSVirtualService(
                key: .address(addr("2001:db8::10"), port: 443, protocol: .sctp), scheduler: .mh, flags: .mhFallback,
                destinations: [IPVSDestination(address: addr("2001:db8:1::5"), port: 443, weight: 0)]),
            IPVSVirtualService(
                key: .firewallMark(7, family: .ipv4), scheduler: .rr,
                persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 32),
                destinations: [
                    IPVSDestination(address: addr("10.0.0.8"), port: 0, forwarding: .directRoute),
                    IPVSDestination(address: addr("10.0.0.9"), port: 8080, forwarding: .tunnel),
                ]),
            IPVSVirtualService(
                key: .address(addr("192.0.2.11"), port: 80, protocol: .tcp), scheduler: .rr,
                destinations: [
                    IPVSDestination(address: addr("10.0.0.5"), port: 80, forwarding: .directRoute),
                    IPVSDestination(address: addr("10.0.0.6"), port: 80, forwarding: .tunnel),
                    IPVSDestination(address: addr("2001:db8:2::6"), port: 80, forwarding: .tunnel),
                ]),
        ]
        #expect(table.services == expected)
        #expect(table.declaredOwnership?.description == "192.0.2.0/24, 2001:db8::/64, fwmark 7")
        #expect(table.ownership == table.declaredOwnership)
    }

    @Test func jsonFileWithTabs() throws {
        let table = try IPVSTableFile.load(path: fixture("ipvs-table-minimal.json"))
        #expect(table.services == [
            IPVSVirtualService(key: .address(addr("192.0.2.20"), port: 443, protocol: .tcp),
                               destinations: [IPVSDestination(address: addr("10.0.1.1"), port: 8443)]),
        ])
        #expect(table.declaredOwnership == nil)
        #expect(table.ownership.description == "192.0.2.20/32")
    }

    @Test func defaultsComeFromTheCaller() throws {
        let table = try IPVSTableFile.parse("""
            services:
              - address: 2001:db8::1
                port: 80
                destinations: [{address: "2001:db8::5"}]
              - fwmark: 9
                family: ipv6
                destinations: [{address: "2001:db8::6"}]
            """, file: "t.yaml",
            defaults: IPVSTableDefaults(scheduler: .wlc, forwarding: .tunnel, weight: 5, persistenceTimeout: 60))
        #expect(table.services.map(\.scheduler) == [.wlc, .wlc])
        #expect(table.services.flatMap(\.destinations).map(\.forwarding) == [.tunnel, .tunnel])
        #expect(table.services.flatMap(\.destinations).map(\.weight) == [5, 5])
        #expect(table.services.flatMap(\.destinations).map(\.port) == [80, 0])
        #expect(table.ownership.description == "2001:db8::1/128, fwmark 9")
    }

    @Test func emptyServiceListIsValid() throws {
        let table = try IPVSTableFile.parse("owns: {addresses: [192.0.2.0/24]}\nservices: []\n", file: "t.yaml")
        #expect(table.services.isEmpty)
        #expect(table.ownership.description == "192.0.2.0/24")
    }

    @Test(arguments: badTables)
    func badTableIsRejectedWithEveryProblem(_ c: BadTable) {
        do {
            let table = try IPVSTableFile.parse(c.yaml, file: c.file)
            Issue.record("accepted: \(table)")
        } catch {
            #expect(error.diagnostics.map(\.description) == c.errors)
        }
    }

    @Test func unreadableFile() {
        do {
            _ = try IPVSTableFile.load(path: "/nonexistent/missing.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.diagnostics.count == 1)
            #expect(error.description.hasPrefix("/nonexistent/missing.yaml: error: cannot read the file: "))
        }
    }
}
