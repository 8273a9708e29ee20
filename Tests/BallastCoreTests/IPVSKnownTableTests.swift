import BallastCore
import BallastFakes
import Testing

/// The remembered table must stay what a dump would return, round after
/// round, from Ballast's own accepted writes alone.
@Suite struct IPVSKnownTableTests {
    let own = owning("192.0.2.0/24")
    let web = service(tcp("192.0.2.10", 80), [dest("10.0.0.6:8080"), dest("10.0.0.5:8080")])
    let dns = service(udp("192.0.2.10", 53), .wlc, [dest("10.0.0.5:53", weight: 2)])
    let mail = service(tcp("192.0.2.11", 25), [dest("10.0.0.9:2525", forward: .directRoute)])

    /// The kernel's table in dump form: services by key, destinations by endpoint.
    func dumped(_ fake: FakeIPVS) -> [ObservedVirtualService] {
        fake.table.sorted { $0.key < $1.key }.map { s in
            var sorted = s
            sorted.destinations.sort { $0.destination < $1.destination }
            return sorted
        }
    }

    @Test func followsTheKernelThroughAddsEditsAndDeletes() throws {
        let fake = FakeIPVS()
        let reconciler = IPVSReconciler(control: fake, ownership: own,
                                        settings: IPVSReconcileSettings(drainTimeout: .zero))
        var known = IPVSKnownTable([])
        var book = IPVSDrainBook()
        var movedWeb = web
        movedWeb.scheduler = .wlc
        movedWeb.destinations = [dest("10.0.0.7:8080"), dest("10.0.0.5:8080", weight: 3)]
        var persistentDNS = dns
        persistentDNS.persistence = IPVSPersistence(timeout: 300, netmaskPrefix: 24)
        let rounds: [[IPVSVirtualService]] = [[web, dns, mail], [movedWeb, persistentDNS, mail], [mail], []]
        for desired in rounds {
            let diff = IPVSDiff(desired: desired, observed: known.services, ownership: own, drainBook: book,
                                settings: reconciler.settings, now: t0)
            let result = reconciler.perform(diff, drainBook: &book)
            #expect(result.isClean && result.dumps == 0)
            known.apply(result.outcomes.map(\.step.operation))
            #expect(known.services == dumped(fake))
        }
        #expect(fake.dumpCount == 0)
    }

    @Test func countsDestinationsAsTheDumpFormDoes() {
        let fake = FakeIPVS()
        let reconciler = IPVSReconciler(control: fake, ownership: own,
                                        settings: IPVSReconcileSettings(drainTimeout: .zero))
        var book = IPVSDrainBook()
        let diff = IPVSDiff(desired: [web, dns, mail], observed: [], ownership: own, drainBook: book,
                            settings: reconciler.settings, now: t0)
        #expect(reconciler.perform(diff, drainBook: &book).isClean)
        let known = IPVSKnownTable(fake.table)
        #expect(known.count == 3)
        for service in known.services {
            #expect(known.destinationCount(of: service.key) == service.destinations.count)
        }
        #expect(known.destinationCount(of: tcp("192.0.2.12", 80)) == nil)
    }

    @Test func replacingDestinationsBringsLiveCountsAndNothingElse() {
        let fake = FakeIPVS([observed(web, active: ["10.0.0.5:8080": 4])])
        var known = IPVSKnownTable([observed(web)])
        known.replaceDestinations(of: web.key, with: (try? fake.destinations(of: web.key)) ?? [])
        #expect(known[web.key]?.destinations.map(\.activeConnections) == [4, 0])
        #expect(known[web.key]?.destinations.map(\.destination.endpoint) == [ep("10.0.0.5:8080"), ep("10.0.0.6:8080")])

        // A service that is not in the table stays out: only a full dump adds one.
        known.replaceDestinations(of: dns.key, with: [ObservedDestination(destination: dest("10.0.0.5:53"))])
        #expect(known[dns.key] == nil && known.count == 1)
    }

    /// Connection counts are kept (drains depend on them); traffic counters are not.
    @Test func keepsConnectionCountsButNoTrafficCounters() {
        var stats = IPVSStats()
        stats.connections = 42
        stats.inBytes = 4096
        var counted = observed(web, active: ["10.0.0.5:8080": 4])
        counted.stats = stats
        counted.destinations[0].stats = stats
        #expect(counted.stats == stats && counted.destinations[0].stats == stats)

        var known = IPVSKnownTable([counted])
        #expect(known[web.key]?.stats == IPVSStats())
        #expect(known[web.key]?.destinations.map(\.stats) == [IPVSStats(), IPVSStats()])
        #expect(known[web.key]?.destinations.map(\.activeConnections) == [4, 0])

        known.replaceDestinations(of: web.key, with: counted.destinations)
        #expect(known[web.key]?.destinations.map(\.stats) == [IPVSStats(), IPVSStats()])
        #expect(known[web.key]?.destinations.map(\.activeConnections) == [4, 0])
    }

    /// Taking the plan's destination arrays changes no value: services whose
    /// destinations differ from the plan's (a drain, a new endpoint not yet
    /// written) keep their own.
    @Test func sharingThePlansDestinationsChangesNothing() {
        var draining = web
        draining.destinations.append(dest("10.0.0.7:8080", weight: 0))
        var known = IPVSKnownTable([observed(draining, active: ["10.0.0.7:8080": 2, "10.0.0.5:8080": 1]),
                                    observed(dns), observed(mail)])
        let before = known
        var sortedWeb = web
        sortedWeb.destinations.sort()
        var movedMail = mail
        movedMail.destinations = [dest("10.0.0.8:2525")]
        known.share([sortedWeb, dns, movedMail, service(tcp("192.0.2.12", 80), [dest("10.0.0.1:80")])])
        #expect(known == before)
        #expect(known.services == before.services)
        #expect(known[web.key]?.destinations.map(\.activeConnections) == [1, 0, 2])

        // Shared, the arrays still change apart: a write to the table leaves the plan's alone.
        let plan = [dns]
        known.share(plan)
        known.apply([.addDestination(dns.key, dest("10.0.0.6:53"))])
        #expect(plan[0].destinations == dns.destinations)
        #expect(known[dns.key]?.destinations.count == 2)
    }

    /// Draining: a weight-0 destination that still has connections.
    @Test func drainingKeysAreThoseWithConnectionsAtWeightZero() {
        var draining = web
        draining.destinations = [dest("10.0.0.5:8080"), dest("10.0.0.6:8080", weight: 0)]
        var idle = dns
        idle.destinations = [dest("10.0.0.5:53", weight: 0)]
        let known = IPVSKnownTable([observed(draining, inactive: ["10.0.0.6:8080": 1]), observed(idle),
                                    observed(mail, active: ["10.0.0.9:2525": 5])])
        #expect(known.drainingKeys == [web.key])
        #expect(Array(known.lazyServices) == known.services)
    }

    @Test func writesForUnknownServicesOrDuplicatesChangeNothing() {
        var known = IPVSKnownTable([observed(web)])
        let before = known
        known.apply([.addDestination(dns.key, dest("10.0.0.5:53")), .editService(dns), .deleteService(dns.key),
                     .addDestination(web.key, dest("10.0.0.5:8080", weight: 9)),
                     .deleteDestination(web.key, ep("10.0.0.99:8080"))])
        #expect(known == before)
    }

    @Test(arguments: [
        // (connections on 10.0.0.6, desired endpoints, the services whose counts matter)
        (UInt32(0), ["10.0.0.5:8080", "10.0.0.6:8080"], false),  // nothing leaves
        (UInt32(0), ["10.0.0.5:8080"], true),                    // deleted when idle
        (UInt32(3), ["10.0.0.5:8080"], true),                    // starts draining
        (UInt32(3), ["10.0.0.5:8080", "10.0.0.7:8080"], true),   // added and draining
    ])
    func leavingDestinationsAreFound(connections: UInt32, endpoints: [String], leaves: Bool) {
        var wanted = web
        wanted.destinations = endpoints.map { dest($0) }
        let diff = IPVSDiff(desired: [wanted, dns], observed: [observed(web, active: ["10.0.0.6:8080": connections]),
                                                               observed(dns)],
                            ownership: own, now: t0)
        #expect(diff.servicesWithLeavingDestinations == (leaves ? [web.key] : []))
    }

    @Test func aDrainInProgressKeepsItsServiceListed() {
        var wanted = web
        wanted.destinations = [dest("10.0.0.5:8080")]
        var draining = web
        draining.destinations = [dest("10.0.0.5:8080"), dest("10.0.0.6:8080", weight: 0)]
        let diff = IPVSDiff(desired: [wanted], observed: [observed(draining, active: ["10.0.0.6:8080": 1])],
                            ownership: own, now: t0)
        #expect(diff.isEmpty && diff.draining.count == 1)
        #expect(diff.servicesWithLeavingDestinations == [web.key])
    }
}
