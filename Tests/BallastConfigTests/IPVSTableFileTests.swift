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
             errors: [
            "t.yaml:1:1: error: the table file is empty\n  hint: it needs a services list, e.g.\n    services:\n      - {address: 192.0.2.10, port: 80, destinations: [{address: 10.0.0.5}]}",
        ]),
    BadTable(name: "YAML syntax error", yaml: "services:\n  - address: [1\n",
             errors: [
            "t.yaml:3:1: error: YAML syntax: did not find expected ',' or ']' (while parsing a flow sequence at line 2)",
        ]),
    BadTable(name: "JSON syntax error", yaml: "{\"services\": [}\n", errors: [
            "t.json:1:15: error: YAML syntax: did not find expected node content (while parsing a flow node at line 1)",
        ], file: "t.json"),
    BadTable(name: "top level is a list", yaml: "- a\n",
             errors: [
            "t.yaml:1:1: error: expected a mapping of keys to values, found a list",
        ]),
    BadTable(name: "no services key", yaml: "owns: {fwmarks: [1]}\n",
             errors: [
            "t.yaml:1:1: error: missing required key \"services\"\n  hint: docs/ipvs-table.md describes the table file",
        ]),
    BadTable(name: "unknown key with a suggestion", yaml: """
        services:
          - adress: 192.0.2.10
            port: 99999
        """, errors: [
            "t.yaml:2:5: error: services[0]: unknown key \"adress\"\n  hint: did you mean \"address\"? (keys allowed here: address, port, protocol, fwmark, family, scheduler, flags, persistence, destinations, stats)",
            "t.yaml:2:5: error: services[0]: a service needs address (with port and protocol) or fwmark (with family)\n  hint: docs/ipvs-table.md describes the table file",
            "t.yaml:3:11: error: services[0].port: 99999 is out of range 0-65535",
        ]),
    BadTable(name: "snake_case key suggests camelCase", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            destinations: [{address: 10.0.0.1, upper_threshold: 5}]
        """, errors: [
            "t.yaml:4:40: error: services[0].destinations[0]: unknown key \"upper_threshold\"\n  hint: did you mean \"upperThreshold\"? (keys allowed here: address, port, weight, forward, upperThreshold, lowerThreshold, connections, stats)",
        ]),
    BadTable(name: "bad addresses", yaml: """
        services:
          - address: 192.0.2.300
            port: 80
            destinations: [{address: web.example}]
        """, errors: [
            "t.yaml:2:14: error: services[0].address: \"192.0.2.300\" is not an IPv4 or IPv6 address\n  hint: names are not resolved; write the address",
            "t.yaml:4:30: error: services[0].destinations[0].address: \"web.example\" is not an IPv4 or IPv6 address\n  hint: names are not resolved; write the address",
        ]),
    BadTable(name: "ports out of range, quoted, negative", yaml: """
        services:
          - {address: 192.0.2.10, port: 70000}
          - {address: 192.0.2.11, port: "80"}
          - {address: 192.0.2.12, port: 80, destinations: [{address: 10.0.0.1, port: -1}]}
        """, errors: [
            "t.yaml:2:33: error: services[0].port: 70000 is out of range 0-65535",
            "t.yaml:3:33: error: services[1].port: expected an integer, found \"80\"\n  hint: remove the quotes",
            "t.yaml:4:78: error: services[2].destinations[0].port: -1 is out of range 1-65535",
        ]),
    BadTable(name: "unknown scheduler, protocol and forward method", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            protocol: tpc
            scheduler: wrr2
            destinations: [{address: 10.0.0.1, forward: nat}]
        """, errors: [
            "t.yaml:4:15: error: services[0].protocol: \"tpc\" is not valid\n  hint: did you mean \"tcp\"? (valid values: tcp, udp, sctp)",
            "t.yaml:5:16: error: services[0].scheduler: \"wrr2\" is not valid\n  hint: did you mean \"wrr\"? (valid values: rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh)",
            "t.yaml:6:49: error: services[0].destinations[0].forward: \"nat\" is not valid\n  hint: valid values: masq, route, tunnel",
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
            "t.yaml:6:9: error: services[0].destinations[1]: duplicate destination 10.0.0.1:80 of TCP 192.0.2.10:80\n  hint: it is first defined at line 5; keep one",
            "t.yaml:7:15: error: services[1].address: duplicate service TCP 192.0.2.10:80\n  hint: it is first defined at line 2; merge the two entries",
        ]),
    BadTable(name: "fwmark without family, with port", yaml: """
        services:
          - fwmark: 7
            port: 80
        """, errors: [
            "t.yaml:2:5: error: services[0]: missing required key \"family\"\n  hint: a fwmark service needs family: ipv4 or family: ipv6",
            "t.yaml:3:11: error: services[0].port: has no meaning for a fwmark service\n  hint: remove it; the firewall mark selects the packets",
        ]),
    BadTable(name: "fwmark zero, address and fwmark together, family with address", yaml: """
        services:
          - {fwmark: 0, family: ipv4}
          - {fwmark: 1, address: 192.0.2.1, port: 1}
          - {address: 192.0.2.2, port: 1, family: ipv6}
        """, errors: [
            "t.yaml:2:14: error: services[0].fwmark: 0 is out of range 1-4294967295",
            "t.yaml:3:14: error: services[1].fwmark: a service has either address or fwmark, not both",
            "t.yaml:4:43: error: services[2].family: only applies to fwmark services\n  hint: remove it; an address has its own family",
        ]),
    BadTable(name: "flags that do not fit", yaml: """
        services:
          - {address: 192.0.2.10, port: 80, flags: [sh-port, one-packet, bogus]}
          - {address: 192.0.2.10, port: 53, protocol: udp, scheduler: sh, flags: [sh-port, sh-port]}
        """, errors: [
            "t.yaml:2:45: error: services[0].flags[0]: flag \"sh-port\" only applies to scheduler sh\n  hint: this service uses rr",
            "t.yaml:2:54: error: services[0].flags[1]: one-packet only applies to UDP services\n  hint: this one is TCP",
            "t.yaml:2:66: error: services[0].flags[2]: \"bogus\" is not a flag\n  hint: flags of scheduler rr: one-packet, flag-1, flag-2, flag-3",
            "t.yaml:3:84: error: services[1].flags[1]: flag \"sh-port\" is listed twice\n  hint: keep one",
        ]),
    BadTable(name: "persistence limits and port 0", yaml: """
        services:
          - {address: 192.0.2.10, port: 80, persistence: {timeout: 0, netmask: 33}}
          - {address: "2001:db8::1", port: 80, persistence: {netmask: 0}}
          - {address: 192.0.2.11, port: 0}
        """, errors: [
            "t.yaml:2:60: error: services[0].persistence.timeout: 0 is out of range 1-2678400",
            "t.yaml:2:72: error: services[0].persistence.netmask: 33 is out of range 0-32",
            "t.yaml:3:63: error: services[1].persistence.netmask: 0 is out of range 1-128",
            "t.yaml:4:33: error: services[2].port: 0 (every port) needs persistence\n  hint: add persistence: {} or use a port from 1 to 65535; the kernel only accepts port 0 for persistent services",
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
            "t.yaml:5:35: error: services[0].destinations[0].port: forward: route delivers packets to the service port 80 unchanged, so port 8080 cannot apply\n  hint: remove port, or set it to 80",
            "t.yaml:6:19: error: services[0].destinations[1].address: 2001:db8::5 is IPv6 but the service is IPv4\n  hint: only forward: tunnel can reach a destination of the other family",
            "t.yaml:7:64: error: services[0].destinations[2].lowerThreshold: 6 is above upperThreshold 5\n  hint: the kernel requires lower ≤ upper (0 means no limit only for upperThreshold); raise upperThreshold or lower this",
            "t.yaml:8:37: error: services[0].destinations[3].weight: -1 is out of range 0-2147483647",
            "t.yaml:9:9: error: services[0].destinations[4]: missing required key \"address\"\n  hint: the real server's IPv4 or IPv6 address",
            "t.yaml:10:9: error: services[0].destinations[5]: expected a mapping of keys to values, found \"10.0.0.4\"",
        ]),
    BadTable(name: "owns: bad prefixes and services outside it", yaml: """
        owns:
          addresses: [192.0.2.1/24, bogus]
          fwmarks: [3]
        services:
          - {address: 198.51.100.1, port: 80}
          - {fwmark: 4, family: ipv6}
        """, errors: [
            "t.yaml:2:15: error: owns.addresses[0]: \"192.0.2.1/24\" has host bits set; did you mean 192.0.2.0/24?\n  hint: write a prefix such as 192.0.2.0/24, or a single address",
            "t.yaml:2:29: error: owns.addresses[1]: \"bogus\" is not an IPv4 or IPv6 address\n  hint: write a prefix such as 192.0.2.0/24, or a single address",
        ]),
    BadTable(name: "services outside owns", yaml: """
        owns:
          addresses: [192.0.2.0/24]
          fwmarks: [3]
        services:
          - {address: 198.51.100.1, port: 80}
          - {fwmark: 4, family: ipv6}
          - {address: 192.0.2.1, port: 80}
        """, errors: [
            "t.yaml:5:15: error: services[0].address: TCP 198.51.100.1:80 is outside owns (192.0.2.0/24, fwmark 3)\n  hint: extend owns, or remove the service",
            "t.yaml:6:14: error: services[1].fwmark: FWM 4 (IPv6) is outside owns (192.0.2.0/24, fwmark 3)\n  hint: extend owns, or remove the service",
        ]),
    BadTable(name: "a key given twice", yaml: """
        services:
          - address: 192.0.2.10
            port: 80
            port: 81
        """, errors: [
            "t.yaml:3:5: error: key \"port\" appears more than once in one mapping\n  hint: keep one of them; YAML mappings cannot repeat a key",
        ]),
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
            #expect(error.all.map(\.description) == c.errors)
        }
    }

    @Test func unreadableFile() {
        do {
            _ = try IPVSTableFile.load(path: "/nonexistent/missing.yaml")
            Issue.record("loaded a missing file")
        } catch {
            #expect(error.all.map(\.description) == [
                "error: table file /nonexistent/missing.yaml no such file\n  hint: docs/ipvs-table.md describes the table file",
            ])
        }
    }
}
