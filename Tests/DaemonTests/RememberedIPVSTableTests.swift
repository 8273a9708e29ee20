import BallastCore
import BallastFakes
import Daemon
import Testing

/// DrainingIPVSReconciler between full dumps: a change costs its writes (and
/// a one-service read where a destination leaves), not a dump of the table.
@Suite struct RememberedIPVSTableTests {
    let own = IPVSOwnership(prefixes: [CIDR("192.0.2.0/24")!])
    let webKey = VirtualServiceKey.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)
    let apiKey = VirtualServiceKey.address(IPAddress("192.0.2.11")!, port: 80, protocol: .tcp)

    func endpoint(_ last: Int) -> IPVSEndpoint { IPVSEndpoint(address: IPAddress("10.0.0.\(last)")!, port: 8080) }

    func web(_ endpoints: Int...) -> IPVSVirtualService {
        IPVSVirtualService(key: webKey, destinations: endpoints.map {
            IPVSDestination(address: IPAddress("10.0.0.\($0)")!, port: 8080)
        })
    }

    var api: IPVSVirtualService {
        IPVSVirtualService(key: apiKey, destinations: [IPVSDestination(address: IPAddress("10.0.1.5")!, port: 8080)])
    }

    /// The kernel's table in dump form.
    func dumped(_ fake: FakeIPVS) -> [ObservedVirtualService] {
        fake.table.sorted { $0.key < $1.key }.map { s in
            var sorted = s
            sorted.destinations.sort { $0.destination < $1.destination }
            return sorted
        }
    }

    @Test func anEditWritesWithoutDumpingTheTable() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        let first = reconciler.reconcile(desired: [web(5, 6), api], ownership: own)
        #expect(first.errors.isEmpty && fake.dumpCount == 1, "start: one full dump")
        #expect(first.observed == dumped(fake), "no second dump for the status")

        // One endpoint moves: an add and a delete, one read of that service, no dump.
        let edit = reconciler.reconcile(desired: [web(5, 7), api], ownership: own)
        #expect(fake.dumpCount == 1)
        #expect(fake.destinationDumps == [webKey])
        #expect(fake.performCalls.last == [.addDestination(webKey, web(7).destinations[0]),
                                           .deleteDestination(webKey, endpoint(6))])
        #expect(edit.observed == dumped(fake))

        // A change that removes nothing reads nothing at all.
        _ = reconciler.reconcile(desired: [web(5, 7, 8), api], ownership: own)
        #expect(fake.dumpCount == 1 && fake.destinationDumps == [webKey])
        #expect(fake.performCalls.last == [.addDestination(webKey, web(8).destinations[0])])
    }

    /// The counts a destination leaves with are read, not remembered: one
    /// Ballast added reads 0 connections in its memory, yet has them now.
    @Test func aLeavingDestinationDrainsOnLiveCounts() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.reconcile(desired: [web(5, 6)], ownership: own)
        fake.setConnections(webKey, endpoint(6), active: 2)

        let drain = reconciler.reconcile(desired: [web(5)], ownership: own)
        #expect(drain.draining == 1)
        #expect(fake[webKey]?.destinations.first { $0.destination.endpoint == endpoint(6) }?.destination.weight == 0)
        #expect(drain.observed == dumped(fake), "the drain shows with its live connections")

        // Still draining: read again on every round, deleted once idle.
        _ = reconciler.reconcile(desired: [web(5), api], ownership: own)
        #expect(fake[webKey]?.destinations.count == 2)
        fake.setConnections(webKey, endpoint(6), active: 0)
        _ = reconciler.reconcile(desired: [web(5), api], ownership: own)
        #expect(fake[webKey]?.destinations.map(\.destination.endpoint) == [endpoint(5)])
        #expect(fake.dumpCount == 1)
        #expect(fake.destinationDumps == [webKey, webKey, webKey])
    }

    @Test func forgetReadsTheWholeTableAgainAndRepairsDrift() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.reconcile(desired: [web(5), api], ownership: own)
        _ = fake.perform([.deleteService(apiKey)])  // ipvsadm -D behind Ballast's back

        // Between full reads the change is not seen...
        let unseen = reconciler.reconcile(desired: [web(5), api], ownership: own)
        #expect(unseen.performed.isEmpty && fake[apiKey] == nil)
        // ...the resync sees and repairs it.
        reconciler.forget()
        let repaired = reconciler.reconcile(desired: [web(5), api], ownership: own)
        #expect(fake.dumpCount == 2)
        #expect(repaired.performed[.addService] == 1 && fake[apiKey] != nil)
        #expect(repaired.observed == dumped(fake))
    }

    @Test func aRefusedWriteReadsTheWholeTableAgain() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.reconcile(desired: [web(5)], ownership: own)
        _ = fake.perform([.deleteService(webKey)])

        // The remembered table still has web: the add is refused (ESRCH), which
        // shows the table is wrong; the status reports the kernel as it is.
        let refused = reconciler.reconcile(desired: [web(5, 6)], ownership: own)
        #expect(refused.errors.count == 1)
        #expect(fake.dumpCount == 2)
        #expect(refused.observed == dumped(fake))
        // The next round works from that dump and repairs the service.
        let next = reconciler.reconcile(desired: [web(5, 6)], ownership: own)
        #expect(next.errors.isEmpty && fake.dumpCount == 2)
        #expect(fake[webKey]?.destinations.count == 2)
    }

    @Test func aFailedReadIsReportedAndTheNextRoundDumpsAgain() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.reconcile(desired: [web(5, 6)], ownership: own)
        fake.setConnections(webKey, endpoint(6), active: 1)
        fake.failDumps(11)
        let failed = reconciler.reconcile(desired: [web(5)], ownership: own)
        #expect(failed.errors.map(\.service) == [nil])
        #expect(fake.writes.count == 3, "nothing is written on counts that could not be read")

        fake.failDumps(nil)
        let next = reconciler.reconcile(desired: [web(5)], ownership: own)
        #expect(next.errors.isEmpty && next.draining == 1)
        #expect(fake.dumpCount == 2)
    }

    @Test func withoutRememberingEveryRoundDumps() {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60), remembersTable: false)
        _ = reconciler.reconcile(desired: [web(5)], ownership: own)
        #expect(fake.dumpCount == 2, "a round that wrote reports the table as read after its writes")
        _ = reconciler.reconcile(desired: [web(5)], ownership: own)
        #expect(fake.dumpCount == 3)
    }
}
