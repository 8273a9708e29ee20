// An incremental sync (the source names the changed Services) must leave the
// kernel exactly as a full sync of the same snapshot does, and a resync must
// still repair whatever changed behind Ballast's back.
import BallastCore
import BallastFakes
import BallastTestSupport
import Daemon
import Foundation
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct IncrementalSyncTests {
    final class Count: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add() { count.withLock { $0 += 1 } }
    }

    /// A node: a loop over in-memory kernel objects, as the daemon wires them.
    final class Machine: Sendable {
        let ipvs = FakeIPVS()
        let vips = FakeVIPControl()
        let snat = FakeSNATControl()
        let announcer = TestAnnouncer()
        /// How many syncs planned every Service (the full path).
        let fullPlans = Count()
        let loop: ReconcileLoop

        init(incremental: Bool, configuration: Configuration, sysctlErrors: [String] = []) {
            let reconciler = DrainingIPVSReconciler(control: ipvs, drainTimeout: .seconds(60))
            let remembered = RememberedSNATControl(wrapping: snat)
            let board = StatusBoard(node: "n1", dryRun: false, startedAt: Date(), configPath: "ballast.yaml", source: "test")
            loop = ReconcileLoop(
                stages: SyncStages(plan: { [fullPlans] snapshot, allocation, configuration, node in
                                       fullPlans.add()
                                       return DefaultStages.plan(snapshot, allocation, configuration, node)
                                   },
                                   replan: incremental ? DefaultStages.replan : nil, ipvs: reconciler, vips: vips,
                                   snat: remembered, announcer: announcer, ensureSysctls: { sysctlErrors },
                                   forgetKernelView: { remembered.forget(); reconciler.forget() }),
                configuration: configuration, nodeName: "n1", assignments: [:], persist: nil, board: board,
                metrics: nil, logger: quietLogger)
        }

        /// What the kernel holds, comparable between two nodes.
        func kernel() async -> [String] {
            ipvs.table.sorted { $0.key < $1.key }.map { s in "\(s.key) \(s.destinations.map { "\($0.destination.endpoint)/\($0.destination.weight)" })" }
                + vips.currentAddresses.sorted().map { "vip \($0)" }
                + ["snat \(snat.table.map { "\($0.marks.sorted()) \($0.masquerades.sorted())" } ?? "none")"]
                + (await announcer.current).map { "announce \($0)" }
        }
    }

    static let configuration: Configuration = {
        let range = AddressRange(first: IPAddress("192.0.2.10")!, last: IPAddress("192.0.2.14")!)!
        return Configuration(pools: [AddressPool(name: "public", ranges: [range])],
                             ipvs: IPVSSettings(resyncInterval: .seconds(3600)))
    }()

    static func service(_ name: String, using rng: inout SplitMix64) -> Service {
        var service = lbService("default/\(name)", port: rng.pick([80, 443, 8080]), policy: rng.chance(0.3) ? .local : .cluster)
        if rng.chance(0.5) { service.annotations["metallb.io/allow-shared-ip"] = "shared" }
        return service
    }

    static func slice(_ name: String, using rng: inout SplitMix64) -> EndpointSlice {
        var s = DaemonTests.slice(for: "default/\(name)", endpoints: 0)
        s.endpoints = (0..<Int.random(in: 0...3, using: &rng)).map { e in
            Endpoint(address: IPAddress("10.0.\(Int.random(in: 0...1, using: &rng)).\(e + 1)")!,
                     conditions: EndpointConditions(ready: rng.chance(0.8), terminating: rng.chance(0.1)),
                     nodeName: rng.pick(["n1", "n2", "n3"]))
        }
        return s
    }

    static func changes(from old: ClusterSnapshot, to new: ClusterSnapshot) -> SnapshotChanges {
        var changes = SnapshotChanges()
        for ref in Set(old.services.keys).union(new.services.keys) where old.services[ref] != new.services[ref] {
            changes.serviceObjects.insert(ref)
        }
        for ref in Set(old.endpointSlices.keys).union(new.endpointSlices.keys)
        where old.endpointSlices[ref] != new.endpointSlices[ref] {
            if let slice = old.endpointSlices[ref] { changes.endpoints.insert(slice.serviceRef) }
            if let slice = new.endpointSlices[ref] { changes.endpoints.insert(slice.serviceRef) }
        }
        return changes
    }

    @Test(arguments: 0..<25)
    func incrementalSyncsLeaveTheKernelAsFullSyncsDo(seed: UInt64) async {
        var rng = SplitMix64(seed: seed)
        let names = (0..<6).map { "s\($0)" }
        var snapshot = ClusterSnapshot(nodes: ["n1": Node(name: "n1"), "n2": Node(name: "n2"),
                                               "n3": Node(name: "n3")])
        for name in names where rng.chance(0.7) {
            let s = Self.service(name, using: &rng)
            snapshot.services[s.ref] = s
            let sl = Self.slice(name, using: &rng)
            snapshot.endpointSlices[sl.ref] = sl
        }
        let incremental = Machine(incremental: true, configuration: Self.configuration)
        let full = Machine(incremental: false, configuration: Self.configuration)
        for node in [incremental, full] {
            await node.loop.sourceChanged(snapshot)
            await node.loop.drainPending()
        }
        #expect(await incremental.kernel() == full.kernel())

        for step in 0..<20 {
            var next = snapshot
            let name = rng.pick(names)
            let ref = ObjectRef(namespace: "default", name: name)
            switch Int.random(in: 0..<6, using: &rng) {
            case 0...2:
                let sl = Self.slice(name, using: &rng)
                next.endpointSlices[sl.ref] = rng.chance(0.15) ? nil : sl
            case 3:
                next.services[ref] = rng.chance(0.3) ? nil : Self.service(name, using: &rng)
            case 4:
                // Two Services at once, as a burst of files does.
                let other = rng.pick(names)
                let sl = Self.slice(other, using: &rng)
                next.endpointSlices[sl.ref] = sl
                next.services[ref] = Self.service(name, using: &rng)
            default:
                next.nodes["n2"]?.ready.toggle()
            }
            let changes = Self.changes(from: snapshot, to: next).merging(nodes: snapshot.nodes != next.nodes)
            snapshot = next
            await incremental.loop.sourceChanged(snapshot, changes: changes)
            await full.loop.sourceChanged(snapshot)
            let a = await incremental.loop.sync(reasons: [.source])
            let b = await full.loop.sync(reasons: [.source])
            #expect(a?.plan == b?.plan, "seed \(seed) step \(step): plans differ")
            #expect(a?.allocation == b?.allocation, "seed \(seed) step \(step): allocations differ")
            #expect(await incremental.kernel() == full.kernel(), "seed \(seed) step \(step): kernels differ")
        }
    }

    @Test func anEndpointEditWritesItsDestinationAloneAndAResyncRepairsDrift() async throws {
        var world = snapshot("default/a", "default/b", "default/c")
        let node = Machine(incremental: true, configuration: Self.configuration)
        await node.loop.sourceChanged(world)
        await node.loop.drainPending()
        let dumps = node.ipvs.dumpCount
        let writes = node.ipvs.writes.count

        // b's endpoint moves: one add and one delete, no dump of the table.
        var moved = DaemonTests.slice(for: "default/b")
        moved.endpoints[0].address = IPAddress("10.0.9.9")!
        world.endpointSlices[moved.ref] = moved
        await node.loop.sourceChanged(world, changes: SnapshotChanges(endpoints: [ref("default/b")]))
        let record = try #require(await node.loop.sync(reasons: [.source]))
        #expect(node.ipvs.dumpCount == dumps)
        #expect(node.ipvs.writes.count - writes == 2)
        #expect(record.plan.services[ref("default/b")]?.destinations == 1)

        // Drift behind Ballast's back: a virtual service and a VIP go. The
        // next incremental sync does not look; the resync repairs.
        let before = await node.kernel()
        let victim = try #require(node.ipvs.table.first)
        _ = node.ipvs.perform([.deleteService(victim.key)])
        try node.vips.remove(try #require(node.vips.currentAddresses.first))
        await node.loop.sync(reasons: [.resync])
        #expect(await node.kernel() == before)
    }
}

extension IncrementalSyncTests {
    /// Only a failed IPVS or SNAT call leaves the remembered tables unlike the
    /// kernel; a sysctl that fails on every sync must not turn every edit
    /// into a full sync.
    @Test func aFailingSysctlKeepsEditsIncrementalARefusedIPVSWriteDoesNot() async throws {
        var world = snapshot("default/a", "default/b")
        let node = Machine(incremental: true, configuration: Self.configuration,
                           sysctlErrors: ["set net.ipv4.vs.conntrack=1: read-only file system"])
        await node.loop.sourceChanged(world)
        await node.loop.drainPending()
        let fullPlans = node.fullPlans.value

        var moved = DaemonTests.slice(for: "default/b")
        moved.endpoints[0].address = IPAddress("10.0.9.9")!
        world.endpointSlices[moved.ref] = moved
        await node.loop.sourceChanged(world, changes: SnapshotChanges(endpoints: [ref("default/b")]))
        let edited = try #require(await node.loop.sync(reasons: [.source]))
        #expect(!edited.dataPlane.errors.isEmpty, "the sysctl failure is reported")
        #expect(node.fullPlans.value == fullPlans, "and the edit stays incremental")

        node.ipvs.fail(FakeIPVS.Errno.EINVAL, times: 1) { if case .addDestination = $0 { true } else { false } }
        moved.endpoints[0].address = IPAddress("10.0.9.10")!
        world.endpointSlices[moved.ref] = moved
        await node.loop.sourceChanged(world, changes: SnapshotChanges(endpoints: [ref("default/b")]))
        let refused = try #require(await node.loop.sync(reasons: [.source]))
        #expect(!refused.dataPlane.ipvs.errors.isEmpty)
        #expect(node.fullPlans.value == fullPlans)

        // The next sync plans and diffs everything: the kernel ends as planned.
        moved.endpoints[0].address = IPAddress("10.0.9.11")!
        world.endpointSlices[moved.ref] = moved
        await node.loop.sourceChanged(world, changes: SnapshotChanges(endpoints: [ref("default/b")]))
        await node.loop.sync(reasons: [.source])
        #expect(node.fullPlans.value == fullPlans + 1)
        #expect(node.ipvs[.address(try #require(edited.plan.services[ref("default/b")]?.addresses.first), port: 80,
                                   protocol: .tcp)]?.destinations.map(\.destination.endpoint.address) == [IPAddress("10.0.9.11")!])
    }
}

extension SnapshotChanges {
    fileprivate func merging(nodes changed: Bool) -> SnapshotChanges {
        var copy = self
        copy.everything = copy.everything || changed
        return copy
    }
}
