import BallastCore
import BallastFakes
import Daemon
import Testing

/// Returns a fixed table, as if the kernel held it after the reconcile.
struct ObservedTable: IPVSReconciling {
    var observed: [ObservedVirtualService]

    func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport {
        IPVSReconcileReport(observed: observed)
    }
}

/// Which VIPs the applier keeps while their connections drain, and the
/// answer-only announcements it hands to the announcer for them.
@Suite struct DrainingAnswerTests {
    static let web = IPAddress("192.0.2.10")!
    static let webRef = ObjectRef(namespace: "default", name: "web")
    static let pool = AddressPool(name: "public", ranges: [AddressRange(first: web, last: IPAddress("192.0.2.12")!)!],
                                  interfaces: ["eth1"])

    /// TCP web:80 with one destination at `weight` holding `connections`.
    static func table(weight: Int32, connections: UInt32) -> [ObservedVirtualService] {
        let destination = IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080, weight: weight)
        return [ObservedVirtualService(key: .address(web, port: 80, protocol: .tcp), scheduler: .rr,
                                       destinations: [ObservedDestination(destination: destination,
                                                                          activeConnections: connections)])]
    }

    /// The plan after web lost its last ready endpoint; `announcer` names
    /// the node that announces its address now, if any.
    static func plan(announcer: String? = nil) -> DesiredState {
        var state = DesiredState(node: "n1")
        state.services[webRef] = ServicePlan(ref: webRef, addresses: [web], pool: "public")
        if let announcer {
            state.announcements = [Announcement(address: web, node: announcer, pool: "public", interfaces: ["eth1"],
                                                services: [webRef])]
            if announcer == "n1" { state.vips = [web] }
        }
        return state
    }

    static func apply(_ state: DesiredState, table: [ObservedVirtualService],
                      pools: [AddressPool] = [pool]) -> (DataPlaneOutcome, FakeVIPControl) {
        let vips = FakeVIPControl(linkExists: true, addresses: [web])
        let applier = DataPlaneApplier(ipvs: ObservedTable(observed: table), vips: vips, snat: FakeSNATControl())
        return (applier.apply(state, pools: pools), vips)
    }

    @Test func anUnannouncedVIPKeptForADrainIsAnsweredOnlyOnItsPoolsInterfaces() {
        let (outcome, vips) = Self.apply(Self.plan(), table: Self.table(weight: 0, connections: 1))
        #expect(vips.currentAddresses == [Self.web])
        #expect(outcome.draining == [Announcement(address: Self.web, node: "n1", pool: "public", interfaces: ["eth1"],
                                                  services: [Self.webRef], answerOnly: true)])
    }

    @Test func anAddressWhosePoolLeftTheConfigurationIsAnsweredOnTheAutomaticInterface() {
        var state = Self.plan()
        state.services = [:]
        let (outcome, _) = Self.apply(state, table: Self.table(weight: 0, connections: 1), pools: [])
        #expect(outcome.draining == [Announcement(address: Self.web, node: "n1", pool: "", interfaces: nil,
                                                  services: [], answerOnly: true)])
    }

    @Test(arguments: [
        // Drained: connections ended (or the drain timeout deleted the destination).
        (nil, 0 as Int32, 0 as UInt32),
        // Another node announces it now: it answers, this one steps back.
        ("n2", 0, 1),
        // Connections on a serving destination are not a drain.
        (nil, 1, 1),
    ] as [(String?, Int32, UInt32)])
    func noAnswerOnlyWhenNothingDrainsOrAnotherNodeAnnounces(announcer: String?, weight: Int32, connections: UInt32) {
        let (outcome, vips) = Self.apply(Self.plan(announcer: announcer),
                                         table: Self.table(weight: weight, connections: connections))
        #expect(outcome.draining.isEmpty)
        #expect(vips.currentAddresses.isEmpty)
        #expect(outcome.vipsRemoved == [Self.web])
    }

    @Test func anAddressThisNodeAnnouncesIsAnnouncedNotAnsweredOnly() {
        let (outcome, vips) = Self.apply(Self.plan(announcer: "n1"), table: Self.table(weight: 0, connections: 1))
        #expect(outcome.draining.isEmpty)
        #expect(vips.currentAddresses == [Self.web])
    }
}
