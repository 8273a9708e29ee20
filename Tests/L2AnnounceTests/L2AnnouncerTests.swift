import BallastCore
import BallastFakes
import L2Announce
import L2Frames
import Testing

@Suite struct L2AnnouncerTests {
    let v4 = Net.ip("192.0.2.10")
    let v6 = Net.ip("2001:db8::10")

    // MARK: Takeover bursts

    @Test func firstGratuitousRoundGoesOutBeforeSetAnnouncedReturns() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port("eth0"))
        #expect(port.sentDecoded == [.garpRequest(v4, Net.eth0MAC), .garpReply(v4, Net.eth0MAC)])
        #expect(h.port("eth1") == nil, "eth1 has no subnet containing the address")
        try await h.stop()
    }

    @Test func burstSendsCountRoundsIntervalApartThenStops() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 3, garpInterval: .seconds(2),
                                                           rescanInterval: .seconds(3600)))
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        await h.advance(by: .seconds(1), sleepers: 2)
        await h.settle(2)
        #expect(port.sent.count == 2, "nothing before the interval")
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("second round") { port.sent.count == 4 }
        await h.advance(by: .seconds(2), sleepers: 2)
        await eventually("third round") { port.sent.count == 6 }
        await h.advance(by: .seconds(60), sleepers: 1)
        await h.settle(1)
        #expect(port.sent.count == 6, "no refresh by default")
        let counters = try #require(await h.announcer.snapshot().interfaces.first { $0.name == "eth0" }).counters
        #expect(counters.gratuitousSent == 6)
        #expect(h.metrics.value("ballast_l2_gratuitous_sent_total", [("interface", "eth0")]) == 6)
        try await h.stop()
    }

    @Test func ipv6TakeoverSendsUnsolicitedAdvertisementsAndJoinsTheGroup() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 2, rescanInterval: .seconds(3600)))
        await h.announcer.setAnnounced([v6: .automatic])
        let port = try #require(h.port())
        #expect(port.sentDecoded == [.unsolicitedNA(v6, Net.eth0MAC)])
        #expect(port.multicastGroups == [MACAddress("33:33:ff:00:00:10")!])
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("second round") { port.sent.count == 2 }
        await h.settle(1)
        #expect(port.sentDecoded == [.unsolicitedNA(v6, Net.eth0MAC), .unsolicitedNA(v6, Net.eth0MAC)])
        try await h.stop()
    }

    @Test func refreshRepeatsAfterTheBurst() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, refreshInterval: .seconds(30),
                                                           rescanInterval: .seconds(3600)))
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        #expect(port.sent.count == 2)
        await h.advance(by: .seconds(29), sleepers: 2)
        await h.settle(2)
        #expect(port.sent.count == 2)
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("first refresh") { port.sent.count == 4 }
        await h.advance(by: .seconds(30), sleepers: 2)
        await eventually("second refresh") { port.sent.count == 6 }
        try await h.stop()
    }

    /// One task paces every address (AnnouncementSchedule): the run loop and
    /// the pacer are the only sleepers, however many addresses burst.
    @Test func manyAddressesBurstFromOnePacer() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 2, rescanInterval: .seconds(3600)))
        let addresses = (1...50).map { Net.ip("192.0.2.\($0)") }
        await h.announcer.setAnnounced(Dictionary(uniqueKeysWithValues: addresses.map { ($0, .automatic) }))
        let port = try #require(h.port())
        #expect(port.sent.count == 100)
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("every second round") { port.sent.count == 200 }
        await h.settle(1)
        #expect(Set(port.sentDecoded) == Set(addresses.flatMap { [.garpRequest($0, Net.eth0MAC), .garpReply($0, Net.eth0MAC)] }))
        try await h.stop()
    }

    /// A takeover while the pacer sleeps towards a refresh minutes away still
    /// gets its burst rounds on time.
    @Test func aNewBurstWakesAPacerSleepingTowardsARefresh() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 2, refreshInterval: .seconds(300),
                                                           rescanInterval: .seconds(3600)))
        let other = Net.ip("192.0.2.11")
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("second round") { port.sent.count == 4 }
        await h.advance(by: .seconds(10), sleepers: 2)
        await h.announcer.setAnnounced([v4: .automatic, other: .automatic])
        #expect(port.sent.count == 6)
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("the new address's second round") { port.sent.count == 8 }
        #expect(Array(port.sentDecoded.suffix(2)) == [.garpRequest(other, Net.eth0MAC), .garpReply(other, Net.eth0MAC)])
        await h.advance(by: .seconds(289), sleepers: 2)
        await eventually("the first address's refresh") { port.sent.count == 10 }
        #expect(Array(port.sentDecoded.suffix(2)) == [.garpRequest(v4, Net.eth0MAC), .garpReply(v4, Net.eth0MAC)])
        try await h.stop()
    }

    @Test func announcementsWaitForRun() async throws {
        let h = await Harness()
        try await h.stop()
        await h.announcer.setAnnounced([v4: .automatic])
        #expect(h.port() == nil)
    }

    // MARK: Answering

    @Test func answersRequestsForAnnouncedAddressesOnly() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic, v6: .automatic])
        let port = try #require(h.port())
        port.clearSent()

        port.deliver(arpRequest(for: "192.0.2.10"))
        port.deliver(neighborSolicitation(for: "2001:db8::10"))
        port.deliver(arpRequest(for: "192.0.2.11"))
        port.deliver(neighborSolicitation(for: "2001:db8::11"))
        port.deliver([0x01, 0x02])
        #expect(port.sentDecoded == [.arpReply(v4, Net.eth0MAC, to: Net.peerMAC),
                                     .solicitedNA(v6, Net.eth0MAC, to: Net.peerMAC)])

        let counters = try #require(await h.announcer.snapshot().interfaces.first).counters
        #expect(counters.requestsReceived == 4)
        #expect(counters.repliesSent == 2)
        #expect(counters.drops == [.notAnnounced: 2, .truncatedEthernet: 1])
        #expect(h.metrics.value("ballast_l2_requests_received_total", [("interface", "eth0")]) == 4)
        #expect(h.metrics.value("ballast_l2_replies_sent_total", [("interface", "eth0")]) == 2)
        #expect(h.metrics.value("ballast_l2_dropped_frames_total",
                                [("interface", "eth0"), ("reason", "not_announced")]) == 2)
        #expect(h.metrics.value("ballast_l2_dropped_frames_total",
                                [("interface", "eth0"), ("reason", "truncated_ethernet")]) == 1)
        try await h.stop()
    }

    @Test func metricLabelsAreInterfaceAndReasonOnly() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic])
        for key in h.metrics.keys {
            #expect(!key.contains("192.0.2"), "\(key) is labelled by address")
            #expect(key.hasPrefix("ballast_l2_"))
        }
        #expect(h.metrics.keys.count == 5 + DropReason.allCases.count)
        try await h.stop()
    }

    // MARK: Answer-only (an address kept while connections drain)

    @Test func answerOnlyAddressesAreAnsweredWithoutGratuitousFrames() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 3, refreshInterval: .seconds(30),
                                                           rescanInterval: .seconds(3600)))
        await h.announcer.setAnnounced([:], answering: [v4: .automatic, v6: .interfaces(["eth0"])])
        let port = try #require(h.port())
        #expect(port.sent.isEmpty, "gratuitous frames for an address only kept while it drains")
        #expect(port.multicastGroups == [MACAddress("33:33:ff:00:00:10")!], "solicitations would not arrive")

        port.deliver(arpRequest(for: "192.0.2.10"))
        port.deliver(neighborSolicitation(for: "2001:db8::10"))
        #expect(port.sentDecoded == [.arpReply(v4, Net.eth0MAC, to: Net.peerMAC),
                                     .solicitedNA(v6, Net.eth0MAC, to: Net.peerMAC)])

        // No burst and no refresh: only the run loop sleeps on the clock.
        await h.advance(by: .seconds(120), sleepers: 1)
        await h.settle(1)
        #expect(port.sent.count == 2)
        let status = await h.announcer.snapshot()
        #expect(status.addresses.map(\.answerOnly) == [true, true])
        #expect(status.addresses.map(\.interfaces) == [["eth0"], ["eth0"]])
        #expect(status.addresses.allSatisfy { $0.problem == nil })
        #expect(status.interfaces.first?.counters.gratuitousSent == 0)
        try await h.stop()
    }

    @Test func droppingAnAnswerOnlyAddressStopsAnsweringIt() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([:], answering: [v4: .automatic])
        let port = try #require(h.port())
        await h.announcer.setAnnounced([:])
        port.deliver(arpRequest(for: "192.0.2.10"))
        #expect(port.sent.isEmpty, "answered after the drain ended")
        #expect(port.isClosed, "port kept open for nothing")
        try await h.stop()
    }

    @Test func anAnnouncedAddressTurningAnswerOnlyLosesItsBurstAndGetsOneWhenAnnouncedAgain() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        await h.settle(2)
        await h.announcer.setAnnounced([:], answering: [v4: .automatic])
        await h.settle(1)
        port.clearSent()
        await h.advance(by: .seconds(5), sleepers: 1)
        await h.settle(1)
        #expect(port.sent.isEmpty, "the burst went on after the address turned answer-only")
        port.deliver(arpRequest(for: "192.0.2.10"))
        #expect(port.sentDecoded == [.arpReply(v4, Net.eth0MAC, to: Net.peerMAC)])
        port.clearSent()

        // Announced again (an endpoint is ready): a takeover burst, as for any announcement.
        await h.announcer.setAnnounced([v4: .automatic], answering: [v4: .automatic])
        #expect(port.sentDecoded == [.garpRequest(v4, Net.eth0MAC), .garpReply(v4, Net.eth0MAC)])
        #expect(await h.announcer.snapshot().addresses.map(\.answerOnly) == [false])
        try await h.stop()
    }

    // MARK: Release

    @Test func releaseStopsAnsweringAndPendingBursts() async throws {
        let h = await Harness()
        let other = Net.ip("192.0.2.20")
        await h.announcer.setAnnounced([v4: .automatic, other: .automatic])
        let port = try #require(h.port())
        await h.announcer.setAnnounced([other: .automatic])
        port.clearSent()

        port.deliver(arpRequest(for: "192.0.2.10"))
        #expect(port.sent.isEmpty, "released address answered")
        port.deliver(arpRequest(for: "192.0.2.20"))
        #expect(port.sentDecoded == [.arpReply(other, Net.eth0MAC, to: Net.peerMAC)])
        port.clearSent()

        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("the kept address's second round") { port.sent.count == 2 }
        await h.advance(by: .seconds(1), sleepers: 2)
        await eventually("the kept address's third round") { port.sent.count == 4 }
        await h.settle(1)
        #expect(Set(port.sentDecoded) == [.garpRequest(other, Net.eth0MAC), .garpReply(other, Net.eth0MAC)],
                "only the kept address's burst goes on")
        try await h.stop()
    }

    @Test func releasingTheLastAddressClosesThePort() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        await h.announcer.setAnnounced([:])
        #expect(port.isClosed)
        #expect(await h.announcer.snapshot().interfaces.isEmpty)
        await h.advance(by: .seconds(10), sleepers: 1)
        await h.settle(1)
        #expect(port.sent.count == 2)
        try await h.stop()
    }

    @Test func stoppingClosesEverything() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic, Net.ip("198.51.100.1"): .automatic])
        try await h.stop()
        #expect(h.port("eth0")?.isClosed == true)
        #expect(h.port("eth1")?.isClosed == true)
        #expect(h.clock.sleeperCount == 0, "a burst outlived run()")
    }

    // MARK: Interfaces

    @Test func explicitInterfacesAnnounceOnEach() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .interfaces(["eth0", "eth1", "eth9"])])
        #expect(h.port("eth0")?.sentDecoded == [.garpRequest(v4, Net.eth0MAC), .garpReply(v4, Net.eth0MAC)])
        #expect(h.port("eth1")?.sentDecoded == [.garpRequest(v4, Net.eth1MAC), .garpReply(v4, Net.eth1MAC)])
        let status = await h.announcer.snapshot()
        #expect(status.addresses.first?.interfaces == ["eth0", "eth1"])
        #expect(status.addresses.first?.problem == "no interface eth9")
        #expect(status.addresses.first?.announcingSince == Harness.startDate)
        try await h.stop()
    }

    @Test func interfaceThatDisappearsAndReturnsIsReopenedWithANewBurst() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, rescanInterval: .seconds(10)))
        await h.announcer.setAnnounced([v4: .automatic])
        let first = try #require(h.port())

        h.directory.current = [Net.loopback, Net.eth1, Net.dummy]
        await h.advance(by: .seconds(10), sleepers: 1)
        await eventually("eth0 closed") { first.isClosed }
        await h.settle(1)
        let gone = await h.announcer.snapshot().addresses.first
        #expect(gone?.interfaces == [])
        #expect(gone?.problem == "no up, ARP-capable interface has a subnet containing 192.0.2.10")
        #expect(gone?.announcingSince == nil)

        var recreated = Net.eth0
        recreated.index = 12
        h.directory.current = [Net.loopback, recreated, Net.eth1, Net.dummy]
        await h.advance(by: .seconds(10), sleepers: 1)
        await eventually("eth0 reopened") { h.port() !== first }
        let second = try #require(h.port())
        #expect(second !== first)
        #expect(second.interface.index == 12)
        #expect(second.sentDecoded == [.garpRequest(v4, Net.eth0MAC), .garpReply(v4, Net.eth0MAC)])
        try await h.stop()
    }

    @Test func macChangeReannouncesWithTheNewMAC() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, rescanInterval: .seconds(10)))
        await h.announcer.setAnnounced([v4: .automatic])
        let newMAC = MACAddress("02:00:00:00:00:42")!
        var changed = Net.eth0
        changed.mac = newMAC
        let old = try #require(h.port())
        h.directory.current = [changed]
        await h.advance(by: .seconds(10), sleepers: 1)
        await eventually("eth0 reopened") { h.port() !== old }
        let port = try #require(h.port())
        #expect(port.sentDecoded == [.garpRequest(v4, newMAC), .garpReply(v4, newMAC)])
        port.deliver(arpRequest(for: "192.0.2.10"))
        #expect(port.sentDecoded.last == .arpReply(v4, newMAC, to: Net.peerMAC))
        try await h.stop()
    }

    @Test func downInterfaceStopsAnnouncing() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, rescanInterval: .seconds(10)))
        await h.announcer.setAnnounced([v4: .automatic])
        var down = Net.eth0
        down.isUp = false
        h.directory.current = [down]
        await h.advance(by: .seconds(10), sleepers: 1)
        await eventually("eth0 closed") { h.port()?.isClosed == true }
        try await h.stop()
    }

    @Test func failedOpenIsRetriedAtTheNextScan() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, rescanInterval: .seconds(10)))
        h.network.failing = ["eth0"]
        await h.announcer.setAnnounced([v4: .automatic])
        #expect(h.port() == nil)
        let status = await h.announcer.snapshot().addresses.first
        #expect(status?.interfaces == [])
        #expect(status?.problem == "cannot open packet sockets on eth0 (see log)")
        h.network.failing = []
        await h.advance(by: .seconds(10), sleepers: 1)
        await eventually("eth0 opened and announced") { h.port()?.sent.count == 2 }
        try await h.stop()
    }

    @Test func failedScanKeepsThePlan() async throws {
        let h = await Harness(settings: L2AnnounceSettings(garpCount: 1, rescanInterval: .seconds(10)))
        await h.announcer.setAnnounced([v4: .automatic])
        h.directory.failListing = true
        await h.advance(by: .seconds(10), sleepers: 1)
        await h.advance(by: .seconds(10), sleepers: 1)
        await h.settle(1)
        let port = try #require(h.port())
        #expect(!port.isClosed)
        port.deliver(arpRequest(for: "192.0.2.10"))
        #expect(port.sentDecoded.last == .arpReply(v4, Net.eth0MAC, to: Net.peerMAC))
        try await h.stop()
    }

    @Test func sendFailuresAreCounted() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic])
        let port = try #require(h.port())
        port.failSends = true
        port.deliver(arpRequest(for: "192.0.2.10"))
        let counters = try #require(await h.announcer.snapshot().interfaces.first).counters
        #expect(counters.sendErrors == 1)
        #expect(counters.repliesSent == 0)
        try await h.stop()
    }

    // MARK: Kernel settings

    @Test func arpSysctlsAreSetOnEveryInterfaceThatCanAnnounce() async throws {
        let h = await Harness()
        #expect(Set(h.directory.writes.map(\.description)) == [
            "net/ipv4/conf/eth0/arp_ignore=1", "net/ipv4/conf/eth0/arp_announce=2",
            "net/ipv4/conf/eth1/arp_ignore=1", "net/ipv4/conf/eth1/arp_announce=2",
        ])
        try await h.stop()
    }

    @Test func strictEnoughSysctlsAreLeftAlone() async throws {
        let directory = FakeL2InterfaceDirectory([Net.eth0])
        directory.preset("net/ipv4/conf/eth0/arp_ignore", "2")
        directory.preset("net/ipv4/conf/eth0/arp_announce", "2")
        let announcer = L2Announcer(logger: .init(label: "test"), interfaces: directory, packets: FakePacketNetwork(),
                                    clock: FakeL2Clock())
        let task = Task { try await announcer.run() }
        await eventually("first scan") { await announcer.snapshot().addresses.isEmpty && directory.writes.isEmpty }
        task.cancel()
        try await task.value
        #expect(directory.writes.isEmpty)
    }

    @Test func sysctlsCanBeLeftToTheHost() async throws {
        let h = await Harness(settings: L2AnnounceSettings(rescanInterval: .seconds(3600), manageSysctls: false))
        await h.announcer.setAnnounced([v4: .automatic])
        #expect(h.directory.writes.isEmpty)
        try await h.stop()
    }

    // MARK: Conflicts

    @Test func anotherMACClaimingOurAddressIsAConflict() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .automatic, v6: .automatic])
        let port = try #require(h.port())
        port.clearSent()
        let intruder = MACAddress("02:00:00:00:00:66")!
        for frame in Announcement.frames(for: v4, mac: intruder) + Announcement.frames(for: v6, mac: intruder) {
            port.deliver(frame)
        }
        #expect(port.sent.isEmpty, "conflicts are reported, not fought")
        let status = await h.announcer.snapshot()
        let record = try #require(status.addresses.first { $0.address == v4 }?.conflicts)
        #expect(record.count == 2)
        #expect(record.lastMAC == intruder)
        #expect(record.lastSeen == Harness.startDate)
        #expect(record.lastInterface == "eth0")
        #expect(status.addresses.first { $0.address == v6 }?.conflicts?.lastEvidence == .neighborAdvertisement)
        #expect(status.interfaces.first?.counters.conflicts == 3)
        #expect(h.metrics.value("ballast_l2_conflicts_total", [("interface", "eth0")]) == 3)
        try await h.stop()
    }

    @Test func ownGratuitousFramesEchoedBackAreNotConflicts() async throws {
        let h = await Harness()
        await h.announcer.setAnnounced([v4: .interfaces(["eth0", "eth1"])])
        // eth0 and eth1 on one segment hear each other's bursts.
        for frame in try #require(h.port("eth1")).sent { try #require(h.port("eth0")).deliver(frame) }
        let status = await h.announcer.snapshot()
        #expect(status.addresses.first?.conflicts == nil)
        #expect(status.interfaces.first { $0.name == "eth0" }?.counters.drops == [.ownFrame: 2])
        try await h.stop()
    }
}
