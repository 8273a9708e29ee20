import BallastCore
import BallastFakes
import Testing

/// One diff scenario: desired and observed tables, and the steps expected, as
/// their descriptions (operation plus reason, so edited fields are checked too).
struct DiffCase: Sendable, CustomTestStringConvertible {
    var name: String
    var desired: [IPVSVirtualService]
    var observed: [ObservedVirtualService]
    var ownership = owning("192.0.2.0/24", "2001:db8::/64", marks: [7])
    var expected: [String]
    var conflicts: [String] = []
    var draining: [String] = []

    var testDescription: String { name }
}

private let vip = "192.0.2.10"
private let web = service(tcp(vip, 80), [dest("10.0.0.5:8080"), dest("10.0.0.6:8080")])

let diffCases: [DiffCase] = [
    DiffCase(name: "empty tables", desired: [], observed: [], expected: []),
    DiffCase(name: "identical tables write nothing", desired: [web], observed: [observed(web)], expected: []),
    DiffCase(name: "identical apart from destination order", desired: [web],
             observed: [observed(service(tcp(vip, 80), [dest("10.0.0.6:8080"), dest("10.0.0.5:8080")]))],
             expected: []),
    DiffCase(name: "new service: service first, then its destinations by endpoint",
             desired: [service(tcp(vip, 80), [dest("10.0.0.6:8080"), dest("10.0.0.5:8080")])], observed: [],
             expected: [
                 "add service TCP 192.0.2.10:80 (missing)",
                 "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80 (missing)",
                 "add destination 10.0.0.6:8080 to TCP 192.0.2.10:80 (missing)",
             ]),
    DiffCase(name: "scheduler change edits the service in place",
             desired: [service(tcp(vip, 80), .wlc, web.destinations)], observed: [observed(web)],
             expected: ["edit service TCP 192.0.2.10:80 (scheduler rr → wlc)"]),
    DiffCase(name: "flags change edits the service",
             desired: [service(tcp(vip, 80), .sh, flags: .shPort, web.destinations)],
             observed: [observed(service(tcp(vip, 80), .sh, web.destinations))],
             expected: ["edit service TCP 192.0.2.10:80 (flags none → sh-port)"]),
    DiffCase(name: "persistence added edits the service",
             desired: [service(tcp(vip, 80), persistence: IPVSPersistence(timeout: 10800, netmaskPrefix: 32),
                               web.destinations)],
             observed: [observed(web)],
             expected: ["edit service TCP 192.0.2.10:80 (persistence none → 10800s/32)"]),
    DiffCase(name: "persistence netmask change edits the service",
             desired: [service(tcp(vip, 80), persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 24))],
             observed: [observed(service(tcp(vip, 80),
                                         persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 32)))],
             expected: ["edit service TCP 192.0.2.10:80 (persistence 300s/32 → 300s/24)"]),
    DiffCase(name: "kernel-owned flag bits and a zero persistence timeout are not differences",
             desired: [web],
             observed: [observed(web, rawFlags: 0x0002, persistence: .some(IPVSPersistence(timeout: 0, netmaskPrefix: 32)))],
             expected: []),
    DiffCase(name: "weight change edits the destination",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", weight: 3), dest("10.0.0.6:8080")])],
             observed: [observed(web)],
             expected: ["edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80 (weight 1 → 3)"]),
    DiffCase(name: "threshold changes edit the destination",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", upper: 100, lower: 10), dest("10.0.0.6:8080")])],
             observed: [observed(web)],
             expected: ["edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80 (upper threshold 0 → 100, lower threshold 0 → 10)"]),
    DiffCase(name: "forwarding change keeping the endpoint edits the destination",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:80", forward: .tunnel)])],
             observed: [observed(service(tcp(vip, 80), [dest("10.0.0.5:80")]))],
             expected: ["edit destination 10.0.0.5:80 of TCP 192.0.2.10:80 (forward masq → tunnel)"]),
    DiffCase(name: "the kernel reports the service port for route destinations: no perpetual difference",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", forward: .directRoute)])],
             observed: [observed(service(tcp(vip, 80), [dest("10.0.0.5:80", forward: .directRoute)]))],
             expected: []),
    DiffCase(name: "a new tunnel destination is added with the service port",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", forward: .tunnel)])],
             observed: [observed(service(tcp(vip, 80)))],
             expected: ["add destination 10.0.0.5:80 to TCP 192.0.2.10:80 (missing)"]),
    DiffCase(name: "masq to route moves the endpoint to the service port: add before delete",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", forward: .directRoute)])],
             observed: [observed(service(tcp(vip, 80), [dest("10.0.0.5:8080")]))],
             expected: [
                 "add destination 10.0.0.5:80 to TCP 192.0.2.10:80 (missing)",
                 "delete destination 10.0.0.5:8080 from TCP 192.0.2.10:80 (not desired)",
             ]),
    DiffCase(name: "route destinations of a firewall-mark service keep their port",
             desired: [service(fwm(7), [dest("10.0.0.5:8080", forward: .directRoute)])],
             observed: [],
             expected: ["add service FWM 7 (missing)",
                        "add destination 10.0.0.5:8080 to FWM 7 (missing)"]),
    DiffCase(name: "make before break: adds, then edits, then removals",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", weight: 2), dest("10.0.0.7:8080")])],
             observed: [observed(web)],
             expected: [
                 "add destination 10.0.0.7:8080 to TCP 192.0.2.10:80 (missing)",
                 "edit destination 10.0.0.5:8080 of TCP 192.0.2.10:80 (weight 1 → 2)",
                 "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (not desired)",
             ]),
    DiffCase(name: "an idle TCP destination is deleted at once",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080")])], observed: [observed(web)],
             expected: ["delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (not desired)"]),
    DiffCase(name: "a TCP destination with connections drains at weight 0",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080")])],
             observed: [observed(web, active: ["10.0.0.6:8080": 2], inactive: ["10.0.0.6:8080": 1])],
             expected: ["edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80 (draining, 3 connections)"],
             draining: ["draining 10.0.0.6:8080 of TCP 192.0.2.10:80: 3 connections (2 active, 1 inactive, 0 persistent), 0s"]),
    DiffCase(name: "a draining destination already at weight 0 needs no write",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080")])],
             observed: [observed(service(tcp(vip, 80), [dest("10.0.0.5:8080"), dest("10.0.0.6:8080", weight: 0)]),
                                 active: ["10.0.0.6:8080": 1])],
             expected: [],
             draining: ["draining 10.0.0.6:8080 of TCP 192.0.2.10:80: 1 connection (1 active, 0 inactive, 0 persistent), 0s"]),
    DiffCase(name: "a UDP destination is deleted at once even with connections",
             desired: [service(udp(vip, 53), [dest("10.0.0.5:53")])],
             observed: [observed(service(udp(vip, 53), [dest("10.0.0.5:53"), dest("10.0.0.6:53")]),
                                 active: ["10.0.0.6:53": 4])],
             expected: ["delete destination 10.0.0.6:53 from UDP 192.0.2.10:53 (not desired)"]),
    DiffCase(name: "SCTP destinations drain",
             desired: [service(sctp(vip, 3868))],
             observed: [observed(service(sctp(vip, 3868), [dest("10.0.0.5:3868")]), active: ["10.0.0.5:3868": 1])],
             expected: ["edit destination 10.0.0.5:3868 of SCTP 192.0.2.10:3868 (draining, 1 connection)"],
             draining: ["draining 10.0.0.5:3868 of SCTP 192.0.2.10:3868: 1 connection (1 active, 0 inactive, 0 persistent), 0s"]),
    DiffCase(name: "firewall-mark destinations drain (the mark may carry TCP)",
             desired: [service(fwm(7))],
             observed: [observed(service(fwm(7), [dest("10.0.0.5:0")]), active: ["10.0.0.5:0": 1])],
             expected: ["edit destination 10.0.0.5:0 of FWM 7 (draining, 1 connection)"],
             draining: ["draining 10.0.0.5:0 of FWM 7: 1 connection (1 active, 0 inactive, 0 persistent), 0s"]),
    DiffCase(name: "an owned service that is not desired is deleted, without a drain",
             desired: [], observed: [observed(web, active: ["10.0.0.5:8080": 9])],
             expected: ["delete service TCP 192.0.2.10:80 (not desired)"]),
    DiffCase(name: "a service outside the owned range is never touched",
             desired: [], observed: [observed(service(tcp("198.51.100.1", 80), [dest("10.0.0.5:80")]))],
             expected: []),
    DiffCase(name: "a firewall mark that is not owned is never touched",
             desired: [], observed: [observed(service(fwm(8)))],
             expected: []),
    DiffCase(name: "a desired service that is not owned is a conflict, even when it exists",
             desired: [service(tcp("198.51.100.1", 80), .wlc, [dest("10.0.0.5:80")])],
             observed: [observed(service(tcp("198.51.100.1", 80), [dest("10.0.0.9:80")]))],
             expected: [],
             conflicts: ["TCP 198.51.100.1:80 is desired but not owned; left untouched"]),
    DiffCase(name: "duplicates: the first definition wins",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080"), dest("10.0.0.5:8080", weight: 5)]),
                       service(tcp(vip, 80), .wlc)],
             observed: [],
             expected: ["add service TCP 192.0.2.10:80 (missing)",
                        "add destination 10.0.0.5:8080 to TCP 192.0.2.10:80 (missing)"],
             conflicts: ["TCP 192.0.2.10:80 is desired more than once; the first definition is used",
                         "destination 10.0.0.5:8080 of TCP 192.0.2.10:80 is desired more than once; the first definition is used"]),
    DiffCase(name: "route ports that collide after normalisation are duplicates",
             desired: [service(tcp(vip, 80), [dest("10.0.0.5:8080", forward: .directRoute),
                                              dest("10.0.0.5:9090", forward: .directRoute)])],
             observed: [observed(service(tcp(vip, 80)))],
             expected: ["add destination 10.0.0.5:80 to TCP 192.0.2.10:80 (missing)"],
             conflicts: ["destination 10.0.0.5:80 of TCP 192.0.2.10:80 is desired more than once; the first definition is used"]),
    DiffCase(name: "services in key order, service deletes last",
             desired: [service(tcp("192.0.2.30", 80), [dest("10.0.0.1:80")]),
                       service(tcp(vip, 443), .wlc),
                       service(udp(vip, 53)),
                       service(tcp("2001:db8::1", 80)),
                       service(fwm(7, .ipv6))],
             observed: [observed(service(tcp(vip, 443))),
                        observed(service(tcp("192.0.2.1", 80))),
                        observed(service(fwm(7))),
                        observed(service(tcp("192.0.2.31", 80)))],
             expected: [
                 "add service UDP 192.0.2.10:53 (missing)",
                 "edit service TCP 192.0.2.10:443 (scheduler rr → wlc)",
                 "add service TCP 192.0.2.30:80 (missing)",
                 "add destination 10.0.0.1:80 to TCP 192.0.2.30:80 (missing)",
                 "add service TCP [2001:db8::1]:80 (missing)",
                 "add service FWM 7 (IPv6) (missing)",
                 "delete service TCP 192.0.2.1:80 (not desired)",
                 "delete service TCP 192.0.2.31:80 (not desired)",
                 "delete service FWM 7 (not desired)",
             ]),
    DiffCase(name: "IPv6 service with IPv6 destinations",
             desired: [service(tcp("2001:db8::10", 443), .mh, flags: [.mhPort, .mhFallback],
                               [dest("[2001:db8:1::5]:8443", weight: 2)])],
             observed: [observed(service(tcp("2001:db8::10", 443), .mh, [dest("[2001:db8:1::5]:8443")]))],
             expected: [
                 "edit service TCP [2001:db8::10]:443 (flags none → mh-fallback,mh-port)",
                 "edit destination [2001:db8:1::5]:8443 of TCP [2001:db8::10]:443 (weight 1 → 2)",
             ]),
]

@Suite struct IPVSReconcileDiffTests {
    @Test(arguments: diffCases)
    func diff(_ c: DiffCase) {
        let d = IPVSDiff(desired: c.desired, observed: c.observed, ownership: c.ownership, now: t0)
        #expect(d.steps.map(\.description) == c.expected)
        #expect(d.conflicts.map(\.description) == c.conflicts)
        #expect(d.draining.map(\.description) == c.draining)
        #expect(d.drainBook.count == c.draining.count)
    }

    /// Applying a diff's operations to the observed table yields the desired
    /// table: the diff is complete, not merely plausible.
    @Test(arguments: diffCases)
    func applyingTheDiffConverges(_ c: DiffCase) {
        let fake = FakeIPVS(c.observed)
        let first = IPVSDiff(desired: c.desired, observed: fake.table, ownership: c.ownership, now: t0)
        let results = fake.perform(first.operations)
        #expect(results.allSatisfy { (try? $0.get()) != nil }, "a write of \(c.name) failed: \(results)")
        let second = IPVSDiff(desired: c.desired, observed: fake.table, ownership: c.ownership, now: t0)
        #expect(second.operations == [], "second round of \(c.name) still writes")
    }

    @Test func servicesAreWrittenWithoutDestinations() {
        let d = IPVSDiff(desired: [web], observed: [], ownership: owning("192.0.2.0/24"), now: t0)
        guard case .addService(let s) = d.operations.first else {
            Issue.record("first operation is \(String(describing: d.operations.first))")
            return
        }
        #expect(s.destinations.isEmpty)
    }

    @Test func ownershipRule() {
        let own = owning("192.0.2.0/24", "2001:db8::/64", marks: [7])
        #expect(own.owns(tcp("192.0.2.255", 1)))
        #expect(!own.owns(tcp("192.0.3.0", 1)))
        #expect(own.owns(udp("2001:db8::ffff", 53)))
        #expect(!own.owns(tcp("2001:db8:0:1::1", 80)))
        #expect(own.owns(fwm(7)) && own.owns(fwm(7, .ipv6)))
        #expect(!own.owns(fwm(8)))
        #expect(!IPVSOwnership.nothing.owns(tcp("192.0.2.1", 80)))
        #expect(own.description == "192.0.2.0/24, 2001:db8::/64, fwmark 7")

        let covering = IPVSOwnership(covering: [web, service(udp(vip, 53)), service(fwm(9))])
        #expect(covering.description == "192.0.2.10/32, fwmark 9")
        #expect(covering.owns(tcp(vip, 8443)))
        #expect(!covering.owns(tcp("192.0.2.11", 80)))
    }

    @Test func largeTableNoOpIsEmpty() {
        let desired = (0..<2000).map { i in
            service(tcp("192.0.2.\(i % 250 + 1)", UInt16(1000 + i / 250)),
                    (0..<10).map { j in dest("10.\(i / 250).\(i % 250).\(j + 1):8080") })
        }
        let d = IPVSDiff(desired: desired, observed: desired.reversed().map { observed($0) },
                         ownership: owning("192.0.2.0/24"), now: t0)
        #expect(d.isEmpty)
    }
}
