import BallastCore
import BallastFakes
import BallastTestSupport
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

    /// Built with the plan at hand (a warm start's dump, a resync), the table
    /// is the one `share` would make after the fact, whatever the plan's
    /// order, from the dump as read or held compactly, traffic counters and all.
    @Test(arguments: 1...16)
    func aDumpTakenWithThePlanIsTheDumpThenShared(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let keys = [tcp("192.0.2.10", 80), udp("192.0.2.10", 53), tcp("192.0.2.11", 80), tcp("2001:db8::10", 443),
                    fwm(7), sctp("192.0.2.9", 9)]
        let endpoints = ["10.0.0.5:8080", "10.0.0.6:8080", "10.0.0.7:80", "[2001:db8::5]:443"]
        func destinations() -> [IPVSDestination] {
            rng.subset(endpoints).map { dest($0, weight: rng.pick([0, 1, 3])) }
        }
        let plan = rng.subset(keys).map { service($0, destinations().sorted()) }
        var dump: [ObservedVirtualService] = []
        for key in rng.subset(keys) {
            // As planned (in the kernel's order), or not.
            var kernel = plan.first { $0.key == key }.map { planned in
                rng.chance(0.7) ? planned : service(key, destinations())
            } ?? service(key, destinations())
            kernel.destinations.shuffle(using: &rng)
            var seen = observed(kernel, active: Dictionary(kernel.destinations.prefix(1).map { ("\($0.endpoint)", 2) },
                                                           uniquingKeysWith: { first, _ in first }))
            if !seen.destinations.isEmpty && rng.chance(0.5) {
                seen.destinations[0].stats.connections = 9
            }
            dump.append(seen)
        }
        var sortedPlan = plan
        sortedPlan.sort { $0.key < $1.key }
        for desired in [plan, sortedPlan, []] {
            var shared = IPVSKnownTable(dump)
            shared.share(desired)
            let taken = IPVSKnownTable(dump, sharing: desired)
            #expect(taken == shared, "seed \(seed)")
            #expect(taken.services == shared.services, "seed \(seed)")
            let compact = CompactIPVSDump(dump)
            #expect(compact.count == dump.count)
            #expect(IPVSKnownTable(compact, sharing: desired) == shared, "seed \(seed)")
        }
    }

    @Test func anEmptyDumpHeldCompactlyIsAnEmptyTable() {
        let compact = CompactIPVSDump([])
        #expect(compact.count == 0)
        #expect(IPVSKnownTable(compact, sharing: [web]) == IPVSKnownTable([]))
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

    // MARK: - One sorted array of services

    /// What the table held as a dictionary by key: operations applied one by
    /// one, the dump form sorted at the end.
    struct Reference {
        var services: [VirtualServiceKey: ObservedVirtualService] = [:]

        mutating func apply(_ operation: IPVSOperation) {
            switch operation {
            case .addService(let service):
                guard services[service.key] == nil else { return }
                services[service.key] = ObservedVirtualService(key: service.key, scheduler: service.scheduler,
                                                               flags: service.flags, persistence: service.persistence)
            case .editService(let service):
                services[service.key]?.scheduler = service.scheduler
                services[service.key]?.flags = service.flags
                services[service.key]?.persistence = service.persistence
            case .deleteService(let key):
                services[key] = nil
            case .addDestination(let key, let destination):
                guard let service = services[key],
                      !service.destinations.contains(where: { $0.destination.endpoint == destination.endpoint }) else { return }
                services[key]?.destinations.append(ObservedDestination(destination: destination))
                services[key]?.destinations.sort { $0.destination.endpoint < $1.destination.endpoint }
            case .editDestination(let key, let destination):
                guard let index = services[key]?.destinations.firstIndex(where: {
                    $0.destination.endpoint == destination.endpoint
                }) else { return }
                services[key]?.destinations[index].destination = destination
            case .deleteDestination(let key, let endpoint):
                services[key]?.destinations.removeAll { $0.destination.endpoint == endpoint }
            }
        }

        var dump: [ObservedVirtualService] { services.values.sorted { $0.key < $1.key } }
    }

    /// Batches of random writes on a few keys and endpoints, so that a batch
    /// adds, deletes and adds again the same service, and writes to services
    /// it added or deleted before.
    @Test(arguments: 1...12)
    func followsAReferenceThroughRandomBatches(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed))
        let keys = [tcp("192.0.2.10", 80), udp("192.0.2.10", 53), tcp("192.0.2.11", 80), tcp("2001:db8::10", 443),
                    fwm(7), fwm(7, .ipv6), sctp("192.0.2.9", 9)]
        let endpoints = ["10.0.0.5:8080", "10.0.0.6:8080", "10.0.0.7:80", "[2001:db8::5]:443"]
        func destination() -> IPVSDestination {
            dest(rng.pick(endpoints), weight: rng.pick([0, 1, 3]), forward: rng.pick([.masquerade, .directRoute]))
        }
        func operation() -> IPVSOperation {
            let key = rng.pick(keys)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: return .addService(service(key, rng.pick([.rr, .wlc])))
            case 1: return .editService(service(key, rng.pick([.rr, .sh]), flags: rng.pick([[], .shPort])))
            case 2: return .deleteService(key)
            case 3: return .editDestination(key, destination())
            case 4: return .deleteDestination(key, ep(rng.pick(endpoints)))
            default: return .addDestination(key, destination())
            }
        }
        // Start from a dump with connection counts, in no particular order.
        let start = [observed(web, active: ["10.0.0.5:8080": 3]), observed(mail), observed(dns, inactive: ["10.0.0.5:53": 1])]
        var known = IPVSKnownTable(start.shuffled(using: &rng))
        var reference = Reference()
        for var service in start {
            service.destinations.sort { $0.destination.endpoint < $1.destination.endpoint }
            reference.services[service.key] = service
        }
        for round in 0..<40 {
            let batch = (0..<Int.random(in: 1...12, using: &rng)).map { _ in operation() }
            known.apply(batch)
            for operation in batch { reference.apply(operation) }
            #expect(known.services == reference.dump, "seed \(seed), round \(round): \(batch)")
            #expect(known.count == reference.services.count)
            for key in keys {
                #expect(known[key] == reference.services[key], "seed \(seed), round \(round): \(key)")
                #expect(known.destinationCount(of: key) == reference.services[key]?.destinations.count)
            }
        }
    }

    /// The kernel lists services in hash order; a key listed twice keeps its first listing.
    @Test func aDumpInAnyOrderIsSortedAndAKeyListedTwiceKeepsTheFirst() {
        var otherWeb = web
        otherWeb.scheduler = .wlc
        let known = IPVSKnownTable([observed(mail), observed(web), observed(dns), observed(otherWeb)])
        #expect(known.services.map(\.key) == [web, dns, mail].map(\.key).sorted())
        #expect(known[web.key]?.scheduler == .rr)
        #expect(known == IPVSKnownTable([observed(dns), observed(web), observed(mail)]))
    }
}
