import BallastCore
import BallastFakes
import Daemon
import Foundation
import Synchronization
import Testing

/// The start's IPVS dump read ahead (while the manifests are decoded): the
/// first round diffs against it exactly as against a dump of its own, and
/// uses it only while it is current.
@Suite struct IPVSReadAheadTests {
    let own = IPVSOwnership(prefixes: [CIDR("192.0.2.0/24")!])
    let webKey = VirtualServiceKey.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)
    let apiKey = VirtualServiceKey.address(IPAddress("192.0.2.11")!, port: 80, protocol: .tcp)
    let goneKey = VirtualServiceKey.address(IPAddress("192.0.2.12")!, port: 443, protocol: .tcp)
    /// kube-proxy's, outside every pool.
    let foreignKey = VirtualServiceKey.address(IPAddress("10.96.0.1")!, port: 443, protocol: .tcp)

    func endpoint(_ last: Int) -> IPVSEndpoint { IPVSEndpoint(address: IPAddress("10.0.0.\(last)")!, port: 8080) }

    func service(_ key: VirtualServiceKey, _ endpoints: [Int]) -> IPVSVirtualService {
        IPVSVirtualService(key: key, destinations: endpoints.map {
            IPVSDestination(address: IPAddress("10.0.0.\($0)")!, port: 8080)
        })
    }

    /// What the previous run left: web with 5, 6 (6 holding connections),
    /// api with 7, a service no longer wanted, and a foreign one.
    func kernelLeftBehind() -> FakeIPVS {
        let fake = FakeIPVS()
        _ = fake.perform([.addService(service(webKey, [])), .addService(service(apiKey, [])),
                          .addService(service(goneKey, [])), .addService(IPVSVirtualService(key: foreignKey))])
        for (key, endpoints) in [(webKey, [5, 6]), (apiKey, [7]), (goneKey, [9]), (foreignKey, [1])] {
            for destination in service(key, endpoints).destinations {
                _ = fake.perform([.addDestination(key, destination)])
            }
        }
        fake.setConnections(webKey, endpoint(6), active: 3)
        return fake
    }

    /// web loses 6 (which drains), api gains 8, the unwanted one goes, the foreign one stays.
    var desired: [IPVSVirtualService] { [service(webKey, [5]), service(apiKey, [7, 8])] }

    /// The same round, on the same kernel, without reading ahead.
    func roundWithoutReadingAhead() -> (report: IPVSReconcileReport, writes: [IPVSOperation], table: [ObservedVirtualService]) {
        let fake = kernelLeftBehind()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        let report = reconciler.reconcile(desired: desired, ownership: own)
        return (report, fake.writes, fake.table)
    }

    @Test func theFirstRoundDiffsAgainstTheTableReadAheadAsAgainstItsOwnDump() throws {
        let fake = kernelLeftBehind()
        let before = fake.writes.count
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        #expect(try reconciler.readAhead()?.get() == 4)
        #expect(fake.dumpCount == 1)

        let report = reconciler.reconcile(desired: desired, ownership: own)
        #expect(fake.dumpCount == 1, "the round dumps no table of its own")
        #expect(fake.destinationDumps == [webKey],
                "only the services a destination leaves are read again, for their live connection counts")
        let expected = roundWithoutReadingAhead()
        #expect(report == expected.report)
        #expect(Array(fake.writes.dropFirst(before)) == Array(expected.writes.dropFirst(before)))
        #expect(fake.table == expected.table)
        #expect(report.draining == 1 && fake[foreignKey] != nil && fake[goneKey] == nil)
    }

    /// The read ahead is seconds old when the first round diffs: a leaving
    /// destination that had no connections then but has some now drains.
    @Test func aLeavingDestinationIsJudgedByItsConnectionsNowNotAtTheRead() throws {
        let fake = kernelLeftBehind()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.readAhead()
        fake.setConnections(apiKey, endpoint(7), active: 2)

        let report = reconciler.reconcile(desired: [service(webKey, [5]), service(apiKey, [8])], ownership: own)
        let seven = fake[apiKey]?.destinations.first { $0.destination.endpoint == endpoint(7) }
        #expect(seven?.destination.weight == 0, "7 drains its connections instead of being deleted")
        #expect(report.draining == 2)
    }

    @Test func aWarmStartReadsOnceAndWritesNothing() throws {
        let fake = FakeIPVS()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.reconcile(desired: desired, ownership: own)
        let written = fake.writes.count

        // A new process on the kernel the last one left.
        let restarted = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        #expect(try restarted.readAhead()?.get() == 2)
        let report = restarted.reconcile(desired: desired, ownership: own)
        #expect(report.errors.isEmpty && report.performed.isEmpty)
        #expect(fake.writes.count == written)
        #expect(fake.dumpCount == 2, "one dump per process")
    }

    @Test func onlyTheFirstRoundUsesIt() throws {
        let fake = kernelLeftBehind()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.readAhead()
        _ = reconciler.reconcile(desired: desired, ownership: own)
        #expect(reconciler.readAhead() == nil, "a table is known: nothing to read ahead")

        // A change by hand, then drift repair: a fresh dump, not a stale read.
        _ = fake.perform([.deleteService(apiKey)])
        reconciler.forget()
        let repaired = reconciler.reconcile(desired: desired, ownership: own)
        #expect(fake.dumpCount == 2)
        #expect(repaired.performed[.addService] == 1)
        #expect(fake[apiKey]?.destinations.count == 2)
    }

    @Test func aFailedReadLeavesTheRoundToDumpTheTable() {
        let fake = kernelLeftBehind()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        fake.failDumps(FakeIPVS.Errno.EINVAL)
        guard case .failure(let error)? = reconciler.readAhead() else {
            Issue.record("the failed dump is reported")
            return
        }
        #expect(error.errno == FakeIPVS.Errno.EINVAL)

        fake.failDumps(nil)
        let report = reconciler.reconcile(desired: desired, ownership: own)
        #expect(fake.dumpCount == 2, "the round reads the table itself")
        #expect(report == roundWithoutReadingAhead().report)
    }

    @Test func forgettingDiscardsIt() throws {
        let fake = kernelLeftBehind()
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        _ = reconciler.readAhead()
        _ = fake.perform([.deleteService(apiKey)])
        reconciler.forget()
        let report = reconciler.reconcile(desired: desired, ownership: own)
        #expect(fake.dumpCount == 2)
        #expect(report.performed[.addService] == 1, "api is added back: the round saw the kernel as it is")
    }

    /// A round that begins while the read is under way may write: the dump
    /// read ahead then shows the kernel from before those writes.
    @Test func aRoundBegunDuringTheReadDiscardsIt() throws {
        let fake = kernelLeftBehind()
        let interleaved = InterleavingIPVS(fake)
        let reconciler = DrainingIPVSReconciler(control: interleaved, drainTimeout: .seconds(60))
        let desired = desired
        let own = own
        interleaved.duringFirstDump { _ = reconciler.reconcile(desired: desired, ownership: own) }
        #expect(try reconciler.readAhead()?.get() == 4)
        #expect(fake.dumpCount == 2, "the read ahead, and the round's own dump inside it")
        let afterFirstRound = fake.writes.count

        // The next round diffs against the first round's table, not the read
        // ahead (which still lists the service deleted since): nothing to do.
        let report = reconciler.reconcile(desired: desired, ownership: own)
        #expect(report.performed.isEmpty)
        #expect(fake.writes.count == afterFirstRound)
        #expect(!report.observed.contains { $0.key == goneKey })
    }

    @Test func theLoopsFirstSyncUsesTheTableReadAhead() async {
        let fake = FakeIPVS()
        let web = IPAddress("192.0.2.10")!
        let reconciler = DrainingIPVSReconciler(control: fake, drainTimeout: .seconds(60))
        let loop = ReconcileLoop(
            stages: SyncStages(ipvs: reconciler, vips: FakeVIPControl(), snat: FakeSNATControl(), announcer: TestAnnouncer(),
                               forgetKernelView: { reconciler.forget() }),
            configuration: testConfiguration(), nodeName: "n1", assignments: [:], persist: nil,
            board: StatusBoard(node: "n1", dryRun: false, startedAt: Date(), configPath: "/etc/ballast/ballast.yaml",
                               source: "files /etc/ballast/services"),
            metrics: nil, logger: quietLogger)
        loop.readKernelAhead()
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        #expect(fake.dumpCount == 1, "the first sync's diff is against the table read ahead")
        #expect(fake[.address(web, port: 80, protocol: .tcp)] != nil)
    }
}

/// Runs `body` once, inside the first dump, after the table was read: as a
/// round on another thread would if it began while the read was under way.
final class InterleavingIPVS: IPVSControl {
    let wrapped: FakeIPVS
    private let hook = Mutex<(@Sendable () -> Void)?>(nil)

    init(_ wrapped: FakeIPVS) { self.wrapped = wrapped }

    func duringFirstDump(_ body: @escaping @Sendable () -> Void) { hook.withLock { $0 = body } }

    func dump() throws(IPVSError) -> [ObservedVirtualService] {
        let table = try wrapped.dump()
        if let body = hook.withLock({ hook in defer { hook = nil }; return hook }) { body() }
        return table
    }

    func destinations(of service: VirtualServiceKey) throws(IPVSError) -> [ObservedDestination] {
        try wrapped.destinations(of: service)
    }

    func perform(_ operations: [IPVSOperation]) -> [Result<Void, IPVSError>] { wrapped.perform(operations) }
}
