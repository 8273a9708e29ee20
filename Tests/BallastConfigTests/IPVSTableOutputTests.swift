@testable import BallastConfig
import BallastCore
import Testing

/// `ballastctl ipvs show` and `show --json`, and what `apply` prints.
@Suite struct IPVSTableOutputTests {
    static let web = VirtualServiceKey.address(addr("192.0.2.10"), port: 80, protocol: .tcp)
    static let dns = VirtualServiceKey.address(addr("192.0.2.10"), port: 53, protocol: .udp)
    static let v6 = VirtualServiceKey.address(addr("2001:db8::10"), port: 443, protocol: .tcp)
    static let mark = VirtualServiceKey.firewallMark(7, family: .ipv6)

    /// Deliberately unsorted, as a kernel dump is.
    static let table: [ObservedVirtualService] = [
        ObservedVirtualService(key: mark, scheduler: .rr, destinations: [
            ObservedDestination(destination: IPVSDestination(address: addr("2001:db8::7"), port: 0,
                                                             forwarding: .directRoute)),
        ]),
        ObservedVirtualService(
            key: web, scheduler: .wlc, persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 24),
            destinations: [
                ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.6"), port: 8080, weight: 0),
                                    activeConnections: 1, inactiveConnections: 0, persistentConnections: 2),
                ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.5"), port: 8080, weight: 100,
                                                                 upperThreshold: 50, lowerThreshold: 5),
                                    activeConnections: 1234, inactiveConnections: 12),
            ]),
        ObservedVirtualService(key: v6, scheduler: .mh, flags: [.mhPort]),
        ObservedVirtualService(key: dns, scheduler: .sh, flags: [.onePacket, .shPort], destinations: [
            ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.7"), port: 53, forwarding: .tunnel)),
        ]),
    ]

    @Test func textIsSortedAndAligned() {
        #expect(IPVSTableText.render(Self.table) == """
            IPVS table: 4 services, 4 destinations
            Prot Service             Scheduler  Options
              -> Destination         Forward    Weight  Active  Inactive  Persistent
            UDP  192.0.2.10:53       sh         one-packet, sh-port
              -> 10.0.0.7:53         tunnel          1       0         0           0
            TCP  192.0.2.10:80       wlc        persistent 300s mask /24
              -> 10.0.0.5:8080       masq          100    1234        12           0
              -> 10.0.0.6:8080       masq            0       1         0           2
            TCP  [2001:db8::10]:443  mh         mh-port
            FWM  7 (IPv6)            rr
              -> [2001:db8::7]:0     route           1       0         0           0

            """)
    }

    @Test func ownersAnnotateTheirServices() {
        let text = IPVSTableText.render(Self.table, owners: [Self.web: "shop/web", Self.dns: "kube-system/dns"])
        #expect(text.contains("Prot Service             Scheduler  Options  [Owner]\n"))
        #expect(text.contains("UDP  192.0.2.10:53       sh         one-packet, sh-port  [kube-system/dns]\n"))
        #expect(text.contains("TCP  192.0.2.10:80       wlc        persistent 300s mask /24  [shop/web]\n"))
        // A service ballastd does not own prints as before.
        #expect(text.contains("TCP  [2001:db8::10]:443  mh         mh-port\n"))
    }

    @Test func jsonStringEscaping() {
        var out = ""
        JSONValue.quote("a \"b\" \\ c\nd\te\u{1}é", into: &out)
        #expect(out == #""a \"b\" \\ c\nd\te\u0001é""#)
        #expect(JSONValue.object([("k", .array([])), ("o", .object([])), ("n", .integer(-3)), ("b", .bool(true)),
                                  ("z", .null)]).rendered()
            == "{\n  \"k\": [],\n  \"o\": {},\n  \"n\": -3,\n  \"b\": true,\n  \"z\": null\n}")
    }

    @Test func emptyTable() {
        #expect(IPVSTableText.render([]) == "IPVS table: no virtual services\n")
        #expect(IPVSTableJSON.render([]) == "{\n  \"services\": []\n}\n")
    }

    @Test func jsonSchemaIsStable() {
        var stats = IPVSStats()
        stats.connections = 9
        stats.inBytes = 1 << 40
        let one = ObservedVirtualService(
            key: Self.web, scheduler: .rr, persistence: IPVSPersistence(timeout: 60, netmaskPrefix: 32),
            destinations: [ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.5"), port: 8080),
                                               activeConnections: 2, stats: stats)],
            stats: stats)
        let json = IPVSTableJSON.render([one, ObservedVirtualService(key: Self.mark, scheduler: .sh, flags: .shPort)])
        #expect(json == """
            {
              "services": [
                {
                  "address": "192.0.2.10",
                  "port": 80,
                  "protocol": "tcp",
                  "scheduler": "rr",
                  "flags": [],
                  "persistence": {
                    "timeout": 60,
                    "netmask": 32
                  },
                  "stats": {
                    "connections": 9,
                    "inPackets": 0,
                    "outPackets": 0,
                    "inBytes": 1099511627776,
                    "outBytes": 0,
                    "cps": 0,
                    "inPPS": 0,
                    "outPPS": 0,
                    "inBPS": 0,
                    "outBPS": 0
                  },
                  "destinations": [
                    {
                      "address": "10.0.0.5",
                      "port": 8080,
                      "forward": "masq",
                      "weight": 1,
                      "upperThreshold": 0,
                      "lowerThreshold": 0,
                      "connections": {
                        "active": 2,
                        "inactive": 0,
                        "persistent": 0
                      },
                      "stats": {
                        "connections": 9,
                        "inPackets": 0,
                        "outPackets": 0,
                        "inBytes": 1099511627776,
                        "outBytes": 0,
                        "cps": 0,
                        "inPPS": 0,
                        "outPPS": 0,
                        "inBPS": 0,
                        "outBPS": 0
                      }
                    }
                  ]
                },
                {
                  "fwmark": 7,
                  "family": "ipv6",
                  "scheduler": "sh",
                  "flags": [
                    "sh-port"
                  ],
                  "stats": {
                    "connections": 0,
                    "inPackets": 0,
                    "outPackets": 0,
                    "inBytes": 0,
                    "outBytes": 0,
                    "cps": 0,
                    "inPPS": 0,
                    "outPPS": 0,
                    "inBPS": 0,
                    "outBPS": 0
                  },
                  "destinations": []
                }
              ]
            }

            """)
    }

    /// The output of `show --json` is a table file that describes the same table.
    @Test func showJSONIsAValidTableFile() throws {
        let json = IPVSTableJSON.render(Self.table)
        let parsed = try IPVSTableFile.parse(json, file: "show.json")
        let expected = Self.table.sorted { $0.key < $1.key }.map { o in
            var s = o.service
            s.destinations.sort()
            return s
        }
        #expect(parsed.services == expected)
    }

    @Test func applyLinesAndSummary() throws {
        let key = Self.web
        let diff = IPVSDiff(
            desired: [IPVSVirtualService(key: key, scheduler: .wlc, destinations: [
                IPVSDestination(address: addr("10.0.0.5"), port: 8080, weight: 2),
                IPVSDestination(address: addr("10.0.0.8"), port: 8080),
            ]), IPVSVirtualService(key: .address(addr("198.51.100.1"), port: 80, protocol: .tcp))],
            observed: [ObservedVirtualService(key: key, scheduler: .rr, destinations: [
                ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.5"), port: 8080)),
                ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.6"), port: 8080),
                                    activeConnections: 3),
                ObservedDestination(destination: IPVSDestination(address: addr("10.0.0.9"), port: 8080)),
            ]), ObservedVirtualService(key: Self.dns, scheduler: .rr)],
            ownership: IPVSOwnership(prefixes: [CIDR("192.0.2.0/24")!]), now: .now)

        #expect(IPVSApplyReport.lines(forPlan: diff) == [
            "would edit service TCP 192.0.2.10:80: scheduler rr → wlc",
            "would add destination 10.0.0.8:8080 to TCP 192.0.2.10:80",
            "would edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80: weight 1 → 2",
            "would edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80: weight → 0, draining 3 connections",
            "would delete destination 10.0.0.9:8080 from TCP 192.0.2.10:80: not desired",
            "would delete service UDP 192.0.2.10:53: not desired",
            "draining 10.0.0.6:8080 of TCP 192.0.2.10:80: 3 connections (3 active, 0 inactive, 0 persistent), 0s",
            "conflict: TCP 198.51.100.1:80 is desired but not owned; left untouched",
        ])
        var dry = IPVSApplyTotals()
        dry.add(plan: diff)
        #expect(IPVSApplyReport.summary(dry, dryRun: true)
            == "dry run: 6 writes planned, 1 draining, 1 conflict, 1 dump; nothing was changed")

        let outcomes = diff.steps.enumerated().map { i, step in
            IPVSOperationOutcome(step: step, result: i == 1
                ? .failure(IPVSError(operation: step.operation.description, errno: 17, reason: "File exists (EEXIST)"))
                : .success(()))
        }
        let result = IPVSReconcileResult(diff: diff, outcomes: outcomes, dumps: 1)
        #expect(IPVSApplyReport.lines(for: result)[0...1] == [
            "edit service TCP 192.0.2.10:80: scheduler rr → wlc",
            "FAILED add destination 10.0.0.8:8080 to TCP 192.0.2.10:80: File exists (EEXIST)",
        ])
        var totals = IPVSApplyTotals()
        totals.add(result)
        #expect(!totals.succeeded)
        #expect(IPVSApplyReport.summary(totals, dryRun: false)
            == "applied 6 writes (1 failed), 1 draining, 1 conflict, 1 dump")

        let json = IPVSApplyReport.json(totals, dryRun: false)
        #expect(json.hasPrefix("""
            {
              "dryRun": false,
              "writes": 6,
              "failed": 1,
              "dumps": 1,
              "rounds": 1,
              "operations": [
                {
                  "kind": "editService",
                  "service": "TCP 192.0.2.10:80",
                  "text": "edit service TCP 192.0.2.10:80: scheduler rr → wlc",
                  "ok": true
                },
                {
                  "kind": "addDestination",
                  "service": "TCP 192.0.2.10:80",
                  "destination": "10.0.0.8:8080",
                  "text": "add destination 10.0.0.8:8080 to TCP 192.0.2.10:80",
                  "ok": false,
                  "errno": 17,
                  "error": "File exists (EEXIST)"
                },
            """))
        #expect(json.hasSuffix("""
              "draining": [
                {
                  "service": "TCP 192.0.2.10:80",
                  "destination": "10.0.0.6:8080",
                  "active": 3,
                  "inactive": 0,
                  "persistent": 0,
                  "drainingSeconds": 0
                }
              ],
              "conflicts": [
                "TCP 198.51.100.1:80 is desired but not owned; left untouched"
              ]
            }

            """))
    }

    @Test func noOpSummary() {
        var totals = IPVSApplyTotals()
        totals.add(IPVSReconcileResult(diff: IPVSDiff(desired: [], observed: [], ownership: .nothing, now: .now),
                                       outcomes: [], dumps: 1))
        #expect(totals.succeeded)
        #expect(IPVSApplyReport.summary(totals, dryRun: false)
            == "applied 0 writes (0 failed), 0 draining, 0 conflicts, 1 dump")
    }
}
