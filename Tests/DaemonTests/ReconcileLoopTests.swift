import BallastCore
import BallastFakes
import Daemon
import Foundation
import Synchronization
import Testing

final class LoopHarness: Sendable {
    let vips = FakeVIPControl()
    let snat = FakeSNATControl()
    let kernelIPVS = FakeIPVS()
    let remembered: DrainingIPVSReconciler
    let ipvs: GatedReconciler
    let announcer = TestAnnouncer()
    let board = StatusBoard(node: "n1", dryRun: false, startedAt: Date(), configPath: "/etc/ballast/ballast.yaml",
                            source: "files /etc/ballast/services")
    let saved = Mutex<[AssignmentTable]>([])
    let failSaves = Mutex(false)
    let sysctlErrors = Mutex<[String]>([])

    init() {
        remembered = DrainingIPVSReconciler(control: kernelIPVS, drainTimeout: .seconds(60))
        ipvs = GatedReconciler(remembered)
    }

    var keys: Set<VirtualServiceKey> { Set(kernelIPVS.table.map(\.key)) }

    /// Someone else's virtual service, straight into the kernel table.
    func insertForeign(_ key: VirtualServiceKey) {
        _ = kernelIPVS.perform([.addService(IPVSVirtualService(key: key))])
    }

    func loop(configuration: Configuration = testConfiguration(), previous: AssignmentTable = [:],
              onSync: (@Sendable (SyncRecord, Bool) -> Void)? = nil) -> ReconcileLoop {
        ReconcileLoop(
            stages: SyncStages(ipvs: ipvs, vips: vips, snat: snat, announcer: announcer,
                               ensureSysctls: { self.sysctlErrors.withLock { $0 } },
                               forgetKernelView: { self.remembered.forget() }),
            configuration: configuration, nodeName: "n1", assignments: previous,
            persist: { table in
                if self.failSaves.withLock({ $0 }) { throw SystemCallError(operation: "rename assignments.json", errno: EROFS) }
                self.saved.withLock { $0.append(table) }
            },
            board: board, metrics: nil, logger: quietLogger, onSync: onSync)
    }
}

@Suite(.timeLimit(.minutes(1))) struct ReconcileLoopTests {
    let web = IPAddress("192.0.2.10")!
    let api = IPAddress("192.0.2.11")!
    var webKey: VirtualServiceKey { .address(web, port: 80, protocol: .tcp) }

    @Test func nothingRunsBeforeTheFirstSnapshot() async {
        let h = LoopHarness()
        let loop = h.loop()
        await loop.trigger(.resync)
        await loop.drainPending()
        #expect(await loop.completedSyncs == 0)
        #expect(h.kernelIPVS.dumpCount == 0)
        #expect(h.board.answer(.status).status?.health == .starting)
    }

    @Test func aSyncProgramsEveryStageAndASecondOneChangesNothing() async {
        let h = LoopHarness()
        let ready = Mutex(false)
        let loop = h.loop(onSync: { _, first in if first { ready.withLock { $0 = true } } })
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()

        #expect(ready.withLock { $0 })
        #expect(h.vips.currentAddresses == [web])
        #expect(h.keys == [webKey])
        #expect(h.kernelIPVS[webKey]?.destinations.map(\.destination.endpoint.description) == ["10.0.0.5:8080"])
        #expect(await h.announcer.addresses == [web])
        #expect(h.saved.withLock { $0 } == [[ref("default/web"): Assignment(pool: "public", addresses: [web])]])

        // Nothing changed: no kernel write, no state write.
        let record = await loop.sync(reasons: [.resync])
        #expect(record?.dataPlane.ipvs.performed.isEmpty == true)
        #expect(record?.dataPlane.vipsAdded == [] && record?.dataPlane.vipsRemoved == [])
        #expect(record?.dataPlane.snatReplaced == false)
        #expect(h.saved.withLock { $0.count } == 1)

        let status = h.board.answer(.status).status
        #expect(status?.health == .ok)
        #expect(status?.counts == StatusCounts(services: 1, allocated: 1, announced: 1, ipvsServices: 1, ipvsDestinations: 1))
    }

    @Test func previousAssignmentsAreKept() async {
        let h = LoopHarness()
        let loop = h.loop(previous: [ref("default/web"): Assignment(pool: "public", addresses: [api])])
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        #expect(h.vips.currentAddresses == [api])
        #expect(h.saved.withLock { $0.isEmpty })  // unchanged: not rewritten
    }

    @Test func withdrawsWhatIsNoLongerWantedButOnlyWhatIsOurs() async {
        let h = LoopHarness()
        let loop = h.loop()
        await loop.sourceChanged(snapshot("default/web", "shop/api"))
        await loop.drainPending()
        #expect(h.vips.currentAddresses == [web, api])

        // kube-proxy's service, a firewall-mark service, and a stray address in our pool.
        let foreign = VirtualServiceKey.address(IPAddress("10.96.0.1")!, port: 443, protocol: .tcp)
        let mark = VirtualServiceKey.firewallMark(7, family: .ipv4)
        let stray = VirtualServiceKey.address(IPAddress("192.0.2.12")!, port: 22, protocol: .tcp)
        h.insertForeign(foreign)
        h.insertForeign(mark)
        h.insertForeign(stray)

        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        #expect(h.vips.currentAddresses == [web])
        #expect(await h.announcer.addresses == [web])
        // The stray was added behind Ballast's back: the next full read (the resync) finds it.
        #expect(h.keys == [webKey, foreign, mark, stray])
        await loop.sync(reasons: [.resync])
        #expect(h.keys == [webKey, foreign, mark])
    }

    @Test func onlyStartResyncAndReloadReadTheWholeIPVSTable() async {
        let h = LoopHarness()
        let loop = h.loop()
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        #expect(h.kernelIPVS.dumpCount == 1)

        await loop.sourceChanged(snapshot("default/web", "shop/api"))
        await loop.drainPending()
        #expect(h.kernelIPVS.dumpCount == 1, "a source change diffs against the table it knows")
        #expect(h.keys.count == 2)
        #expect(h.board.answer(.status).status?.counts.ipvsServices == 2)

        await loop.sync(reasons: [.resync])
        #expect(h.kernelIPVS.dumpCount == 2)
        await loop.configurationChanged(testConfiguration())
        await loop.drainPending()
        #expect(h.kernelIPVS.dumpCount == 3)
    }

    /// How a Service's last endpoint goes away.
    enum LastEndpointGoes: CaseIterable, Sendable {
        /// Removed from its slice: the destination starts draining.
        case removed
        /// Terminating but still serving: the plan itself keeps it at weight 0.
        case terminating
    }

    @Test(arguments: LastEndpointGoes.allCases)
    func aVIPNobodyAnnouncesStaysWhileItsConnectionsDrain(_ how: LastEndpointGoes) async {
        let h = LoopHarness()
        let loop = h.loop()
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        // A client connects after the last read of the table.
        let endpoint = IPVSEndpoint(address: IPAddress("10.0.0.5")!, port: 8080)
        h.kernelIPVS.setConnections(webKey, endpoint, active: 1)

        // The last endpoint goes: nobody announces the address, but a connection still drains through it.
        var changed = snapshot("default/web")
        switch how {
        case .removed:
            changed.endpointSlices = [:]
        case .terminating:
            var slice = slice(for: "default/web")
            slice.endpoints[0].conditions = EndpointConditions(ready: false, serving: true, terminating: true)
            changed.endpointSlices = [slice.ref: slice]
        }
        await loop.sourceChanged(changed)
        await loop.drainPending()
        #expect(h.kernelIPVS[webKey]?.destinations.map(\.destination.weight) == [0])
        #expect(h.vips.currentAddresses == [web])
        // Still answered, so that a client re-resolving the address finds this node, but not announced.
        #expect(await h.announcer.current == [Announcement(address: web, node: "n1", pool: "public", interfaces: nil,
                                                           services: [ref("default/web")], answerOnly: true)])
        #expect(h.board.answer(.status).status?.counts.draining == 1)
        #expect(h.board.answer(.status).status?.counts.announced == 0)
        #expect(h.board.answer(.services).services?.services.first?.drainingAddresses == [web])
        let sentences = h.board.answer(.explain(ref("default/web"))).explain?.sentences ?? []
        #expect(sentences.contains("No node announces \(web), but this node (n1) keeps answering ARP/NDP for it "
            + "while connections drain through it, without taking it over; new connections find no endpoint."))

        // Once it has ended, the VIP goes (and a removed destination with it), and nothing answers for it.
        h.kernelIPVS.setConnections(webKey, endpoint, active: 0)
        await loop.sync(reasons: [.resync])
        #expect(h.kernelIPVS[webKey]?.destinations.isEmpty == (how == .removed))
        #expect(h.vips.currentAddresses.isEmpty)
        #expect(await h.announcer.current == [])
        #expect(h.board.answer(.status).status?.counts.draining == 0)
    }

    @Test func triggersDuringASyncCoalesceIntoOneMore() async throws {
        let h = LoopHarness()
        let loop = h.loop(configuration: testConfiguration())
        await loop.sourceChanged(snapshot())
        let gate = DispatchSemaphore(value: 0)
        h.ipvs.gate.withLock { $0 = gate }
        let running = Task { await loop.run() }

        // Wait until the first sync is inside the IPVS stage, then pile up triggers.
        while h.ipvs.entered == 0 { try await Task.sleep(for: .milliseconds(5)) }
        for i in 0..<20 {
            await loop.sourceChanged(snapshot("default/s\(i)"))
        }
        h.ipvs.gate.withLock { $0 = nil }
        gate.signal()
        while await loop.completedSyncs < 2 { try await Task.sleep(for: .milliseconds(5)) }
        try await Task.sleep(for: .milliseconds(100))
        running.cancel()
        await running.value
        #expect(await loop.completedSyncs == 2)
        // The second sync used the newest snapshot.
        #expect(h.keys.count == 1)
    }

    @Test func periodicResyncRepairsDrift() async throws {
        let h = LoopHarness()
        let loop = h.loop(configuration: testConfiguration(resync: .milliseconds(20)))
        await loop.sourceChanged(snapshot("default/web"))
        let running = Task { await loop.run() }
        while h.vips.currentAddresses.isEmpty { try await Task.sleep(for: .milliseconds(5)) }

        // Someone deletes the VIP behind Ballast's back.
        try h.vips.remove(web)
        while h.vips.currentAddresses.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        running.cancel()
        await running.value
        #expect(h.vips.currentAddresses == [web])
        #expect(await loop.completedSyncs >= 2)
    }

    @Test func failuresAreReportedAndTheRestStillApplies() async {
        let h = LoopHarness()
        h.vips.fail(.add(IPAddress("192.0.2.10")!), errno: 17, reason: "File exists")
        h.failSaves.withLock { $0 = true }
        h.sysctlErrors.withLock { $0 = ["set net.ipv4.vs.conntrack=1: /proc/sys/net/ipv4/vs/conntrack: No such file or directory"] }
        let loop = h.loop()
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()

        #expect(!h.keys.isEmpty)  // IPVS still programmed
        let status = h.board.answer(.status).status
        #expect(status?.health == .degraded)
        #expect(status?.lastSync?.errors == [
            "set net.ipv4.vs.conntrack=1: /proc/sys/net/ipv4/vs/conntrack: No such file or directory",
            "add address 192.0.2.10/32 to ballast0: File exists",
        ])
        #expect(status?.lastSuccessfulSyncAt == nil)
        #expect(status?.problems.contains { $0.hasPrefix("address assignments are not saved (rename assignments.json: Read-only file system") } == true)
    }

    @Test func statusAnswersAfterASync() async {
        let h = LoopHarness()
        let loop = h.loop()
        var s = snapshot("default/web")
        s.services[ref("default/db")] = Service(ref: ref("default/db"), type: .clusterIP)
        s.services[ref("default/other")] = Service(ref: ref("default/other"), type: .loadBalancer,
                                                   ports: [ServicePort(port: 80)], loadBalancerClass: "example.com/lb")
        await loop.sourceChanged(s)
        await loop.drainPending()

        let rows = h.board.answer(.services).services?.services
        #expect(rows?.map(\.ref) == [ref("default/web")])
        #expect(rows?.first?.externalIPs == [web])
        #expect(rows?.first?.announcingNodes == ["n1"])
        #expect(rows?.first?.ipvsDestinations == 1)
        #expect(rows?.first?.problem == nil)

        #expect(h.board.answer(.pools).pools?.pools == [PoolRow(name: "public", family: .ipv4, size: 3, inUse: 1, autoAssign: true)])

        #expect(h.board.answer(.explain(ref("default/web"))).explain?.sentences == [
            "It has 192.0.2.10 from pool public.",
            "Endpoints: 1 ready of 1; externalTrafficPolicy is Cluster.",
            "This node (n1) announces 192.0.2.10.",
            "IPVS on this node has TCP 192.0.2.10:80 with 1 destination.",
        ])
        #expect(h.board.answer(.explain(ref("default/db"))).explain?.sentences == [
            "Ballast leaves it alone: its type is ClusterIP, and Ballast handles LoadBalancer Services only.",
        ])
        #expect(h.board.answer(.explain(ref("default/other"))).explain?.sentences.first?.hasPrefix("Ballast leaves it alone: loadBalancerClass") == true)
        #expect(h.board.answer(.explain(ref("default/nope"))).explain?.sentences == [
            "No Service of that name is known: files /etc/ballast/services defines none. Check the namespace and name.",
        ])
        let ipvs = h.board.answer(.ipvs).ipvs
        #expect(ipvs?.services.map(\.owner) == ["default/web"])
    }

    @Test func stopAnnouncingLeavesTheDataPlane() async {
        let h = LoopHarness()
        let loop = h.loop()
        await loop.sourceChanged(snapshot("default/web"))
        await loop.drainPending()
        await loop.stopAnnouncing()
        #expect(await h.announcer.stopped)
        #expect(h.vips.currentAddresses == [web])
        #expect(!h.keys.isEmpty)
    }
}

@Suite struct OwnershipTests {
    @Test(arguments: [
        ("192.0.2.10", "192.0.2.17", ["192.0.2.10/31", "192.0.2.12/30", "192.0.2.16/31"]),
        ("192.0.2.0", "192.0.2.255", ["192.0.2.0/24"]),
        ("192.0.2.7", "192.0.2.7", ["192.0.2.7/32"]),
        ("255.255.255.254", "255.255.255.255", ["255.255.255.254/31"]),
        ("2001:db8::1", "2001:db8::4", ["2001:db8::1/128", "2001:db8::2/127", "2001:db8::4/128"]),
        ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", ["::/0"]),
    ])
    func rangesBecomeTheFewestPrefixes(first: String, last: String, prefixes: [String]) {
        let range = AddressRange(first: IPAddress(first)!, last: IPAddress(last)!)!
        #expect(range.coveringPrefixes.map(\.description) == prefixes)
    }

    @Test func poolsAndLinkAddressesAreOwned() {
        let pool = AddressPool(name: "p", ranges: [AddressRange(first: IPAddress("192.0.2.10")!, last: IPAddress("192.0.2.12")!)!])
        let ownership = DataPlaneApplier.ownership(pools: [pool], onLink: [IPAddress("203.0.113.5")!])
        func owns(_ a: String) -> Bool { ownership.owns(.address(IPAddress(a)!, port: 80, protocol: .tcp)) }
        #expect(owns("192.0.2.10") && owns("192.0.2.12") && owns("203.0.113.5"))
        #expect(!owns("192.0.2.9") && !owns("192.0.2.13") && !owns("10.96.0.1"))
        #expect(!ownership.owns(.firewallMark(1, family: .ipv4)))
    }
}
