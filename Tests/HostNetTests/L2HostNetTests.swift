import BallastCore
import BallastTestSupport
import Foundation
import L2Announce
import L2Frames
import Testing

/// The announcer against real kernels and real tools: a "node" namespace
/// runs Ballast's announcer (its sockets opened inside the namespace), a
/// "peer" namespace on the same veth segment runs arping, ndisc6 and tcpdump.
@Suite(.enabled(if: rootTestsEnabled), .serialized)
struct L2HostNetTests {
    static let nodeMAC = "02:b1:00:00:00:01"
    static let vip4 = "198.51.100.10"
    static let vip6 = "2001:db8:1::10"
    /// Also on the node's VIP link, but not announced by this node.
    static let otherVIP4 = "198.51.100.11"
    static let otherVIP6 = "2001:db8:1::11"

    /// node eth0 (198.51.100.1/24, 2001:db8:1::1/64) ↔ peer p0 (.2 and ::2),
    /// the node holding four VIPs on its NOARP dummy link.
    func segment() throws -> (Topology, node: String, peer: String) {
        try requireRootAndTools()
        let topology = Topology()
        do {
            let node = try topology.namespace("node")
            let peer = try topology.namespace("peer")
            try topology.link(node, "eth0", mac: Self.nodeMAC, to: peer, "p0")
            try topology.address(node, "eth0", "198.51.100.1/24")
            try topology.address(node, "eth0", "2001:db8:1::1/64")
            try topology.address(peer, "p0", "198.51.100.2/24")
            try topology.address(peer, "p0", "2001:db8:1::2/64")
            try topology.vipLink(node, addresses: ["\(Self.vip4)/32", "\(Self.otherVIP4)/32",
                                                   "\(Self.vip6)/128", "\(Self.otherVIP6)/128"])
            return (topology, node, peer)
        } catch {
            topology.destroy()
            throw error
        }
    }

    @Test func arpingGetsBallastsMACForAnnouncedAddressesOnly() async throws {
        let (topology, node, peer) = try segment()
        defer { topology.destroy() }

        // The kernel's default (arp_ignore=0) answers for any local address, the
        // VIPs on the dummy link included: what the announcer must switch off.
        #expect(try arping(in: peer, interface: "p0", Self.otherVIP4, count: 1) == [Self.nodeMAC])

        let ballast = try await RunningAnnouncer(namespace: node, settings: L2AnnounceSettings(garpCount: 1))
        #expect(try topology.sysctl(node, "net.ipv4.conf.eth0.arp_ignore") == "1")
        #expect(try topology.sysctl(node, "net.ipv4.conf.eth0.arp_announce") == "2")

        await ballast.announcer.setAnnounced([IPAddress(Self.vip4)!: .automatic])
        // One reply per request: Ballast's, the kernel staying silent.
        #expect(try arping(in: peer, interface: "p0", Self.vip4) == Array(repeating: Self.nodeMAC, count: 3))
        #expect(try arping(in: peer, interface: "p0", Self.otherVIP4) == [], "not announced, yet answered")
        // The node's own address is still the kernel's to answer.
        #expect(try arping(in: peer, interface: "p0", "198.51.100.1", count: 1) == [Self.nodeMAC])

        await ballast.announcer.setAnnounced([:])
        #expect(try arping(in: peer, interface: "p0", Self.vip4) == [], "answered after release")

        let counters = await ballast.announcer.snapshot().interfaces
        #expect(counters.isEmpty, "port still open after release")
        try await ballast.stop()
    }

    @Test func ndisc6ResolvesAnnouncedIPv6Addresses() async throws {
        let (topology, node, peer) = try segment()
        defer { topology.destroy() }

        // Linux answers a solicitation only for addresses on the receiving
        // interface (ndisc_recv_ns looks the target up strictly on that device):
        // VIPs on the dummy link stay unanswered without any sysctl.
        #expect(try ndisc6(in: peer, interface: "p0", Self.vip6) == nil)

        let ballast = try await RunningAnnouncer(namespace: node, settings: L2AnnounceSettings(garpCount: 1))
        await ballast.announcer.setAnnounced([IPAddress(Self.vip6)!: .automatic])
        #expect(try ndisc6(in: peer, interface: "p0", Self.vip6) == Self.nodeMAC)
        #expect(try ndisc6(in: peer, interface: "p0", Self.otherVIP6) == nil)

        let status = await ballast.announcer.snapshot()
        #expect(status.addresses.first?.interfaces == ["eth0"])
        let counters = try #require(status.interfaces.first).counters
        #expect(counters.repliesSent >= 1)
        #expect(counters.drops[.notAnnounced, default: 0] >= 1)

        await ballast.announcer.setAnnounced([:])
        #expect(try ndisc6(in: peer, interface: "p0", Self.vip6) == nil, "answered after release")
        try await ballast.stop()
    }

    /// An address kept only while connections drain: a peer that asks gets
    /// Ballast's MAC, but nothing gratuitous goes out for it.
    @Test func answerOnlyAddressesAreResolvedWithoutGratuitousFrames() async throws {
        let (topology, node, peer) = try segment()
        defer { topology.destroy() }
        let ballast = try await RunningAnnouncer(
            namespace: node, settings: L2AnnounceSettings(garpCount: 3, garpInterval: .milliseconds(100),
                                                          refreshInterval: .milliseconds(200)))
        let capture = try Capture(namespace: peer, interface: "p0")
        await ballast.announcer.setAnnounced([:], answering: [IPAddress(Self.vip4)!: .interfaces(["eth0"]),
                                                              IPAddress(Self.vip6)!: .automatic])
        #expect(try arping(in: peer, interface: "p0", Self.vip4) == Array(repeating: Self.nodeMAC, count: 3))
        #expect(try ndisc6(in: peer, interface: "p0", Self.vip6) == Self.nodeMAC)
        // Longer than a burst and several refreshes would take.
        try await Task.sleep(for: .milliseconds(800))
        let gratuitous = try capture.stop().compactMap(Gratuitous.init).filter { [Self.vip4, Self.vip6].contains($0.address) }
        #expect(gratuitous.isEmpty, "gratuitous frames for answer-only addresses: \(gratuitous)")

        await ballast.announcer.setAnnounced([:])
        #expect(try arping(in: peer, interface: "p0", Self.vip4) == [], "answered after the drain ended")
        #expect(try ndisc6(in: peer, interface: "p0", Self.vip6) == nil, "answered after the drain ended")
        try await ballast.stop()
    }

    @Test func peerCaptureSeesTheBurstWithItsCountAndSpacing() async throws {
        let (topology, node, peer) = try segment()
        defer { topology.destroy() }
        let interval = 0.2
        let ballast = try await RunningAnnouncer(
            namespace: node, settings: L2AnnounceSettings(garpCount: 4, garpInterval: .milliseconds(200)))
        let capture = try Capture(namespace: peer, interface: "p0")
        await ballast.announcer.setAnnounced([IPAddress(Self.vip4)!: .automatic, IPAddress(Self.vip6)!: .automatic])
        try await Task.sleep(for: .milliseconds(1500))
        let seen = try capture.stop().compactMap(Gratuitous.init)
        try await ballast.stop()

        let mac = MACAddress(Self.nodeMAC)!
        #expect(seen.allSatisfy { $0.mac == mac })
        let requests = seen.filter { $0.kind == .arpRequest && $0.address == Self.vip4 }
        let replies = seen.filter { $0.kind == .arpReply && $0.address == Self.vip4 }
        let advertisements = seen.filter { $0.kind == .neighborAdvertisement && $0.address == Self.vip6 }
        #expect(requests.count == 4)
        #expect(replies.count == 4)
        #expect(advertisements.count == 4)
        // Spaced by the interval, not sent at once (a lower bound only: no timing asserts).
        for frames in [requests, replies, advertisements] {
            for (a, b) in zip(frames, frames.dropFirst()) {
                #expect(b.time - a.time >= interval / 2, "rounds \(b.time - a.time) s apart")
            }
        }
    }

    @Test func peerCaptureSeesThePeriodicRefresh() async throws {
        let (topology, node, peer) = try segment()
        defer { topology.destroy() }
        let ballast = try await RunningAnnouncer(
            namespace: node, settings: L2AnnounceSettings(garpCount: 1, refreshInterval: .milliseconds(400)))
        let capture = try Capture(namespace: peer, interface: "p0")
        await ballast.announcer.setAnnounced([IPAddress(Self.vip4)!: .automatic])
        try await Task.sleep(for: .milliseconds(1500))
        let requests = try capture.stop().compactMap(Gratuitous.init).filter { $0.kind == .arpRequest }
        try await ballast.stop()

        #expect(requests.count >= 3, "burst of one, then a refresh every 400 ms: \(requests.count) rounds")
        for (a, b) in zip(requests, requests.dropFirst()) {
            #expect(b.time - a.time >= 0.2, "refreshes \(b.time - a.time) s apart")
        }
    }

    @Test func twoAnnouncersOnOneSegmentBothDetectTheConflict() async throws {
        try requireRootAndTools()
        let topology = Topology()
        defer { topology.destroy() }
        let a = try topology.namespace("nodea")
        let b = try topology.namespace("nodeb")
        let peer = try topology.namespace("peer")
        let macA = "02:b1:00:00:0a:01", macB = "02:b1:00:00:0b:01"
        try topology.link(a, "eth0", mac: macA, to: peer, "pa")
        try topology.link(b, "eth0", mac: macB, to: peer, "pb")
        try Command.run(["ip", "-n", peer, "link", "add", "br0", "type", "bridge"])
        try Command.run(["ip", "-n", peer, "link", "set", "pa", "master", "br0"])
        try Command.run(["ip", "-n", peer, "link", "set", "pb", "master", "br0"])
        try Command.run(["ip", "-n", peer, "link", "set", "br0", "up"])
        for (node, host) in [(a, "1"), (b, "3")] {
            try topology.address(node, "eth0", "198.51.100.\(host)/24")
            try topology.address(node, "eth0", "2001:db8:1::\(host)/64")
            try topology.vipLink(node, addresses: ["\(Self.vip4)/32", "\(Self.vip6)/128"])
        }

        let settings = L2AnnounceSettings(garpCount: 3, garpInterval: .milliseconds(200))
        let ballastA = try await RunningAnnouncer(namespace: a, settings: settings)
        let ballastB = try await RunningAnnouncer(namespace: b, settings: settings)
        let vips: [IPAddress: L2InterfaceSelection] = [IPAddress(Self.vip4)!: .automatic, IPAddress(Self.vip6)!: .automatic]
        await ballastA.announcer.setAnnounced(vips)
        await ballastB.announcer.setAnnounced(vips)
        try await Task.sleep(for: .milliseconds(800))

        for (ballast, other) in [(ballastA, macB), (ballastB, macA)] {
            let status = await ballast.announcer.snapshot()
            for vip in [Self.vip4, Self.vip6] {
                let record = status.addresses.first { $0.address == IPAddress(vip)! }?.conflicts
                #expect(record?.lastMAC == MACAddress(other), "\(vip) conflict not seen against \(other)")
                #expect((record?.count ?? 0) >= 1)
                #expect(record?.lastInterface == "eth0")
            }
            #expect((status.interfaces.first?.counters.conflicts ?? 0) >= 2)
        }
        try await ballastA.stop()
        try await ballastB.stop()
    }
}
