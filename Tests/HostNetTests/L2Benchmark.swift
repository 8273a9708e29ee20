import BallastCore
import BallastTestSupport
import Dispatch
import Foundation
import L2Announce
import L2Frames
import Synchronization
import Testing

/// Not a test: the measurements behind scripts/bench/l2-bench, run only when
/// it sets BALLAST_L2_BENCH=1. It asserts nothing about time; it writes a
/// report to $BALLAST_L2_BENCH_OUT (or prints it).
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_L2_BENCH"] == "1"), .serialized)
struct L2Benchmark {
    static let peerMAC = MACAddress("02:b1:00:00:00:02")!

    /// A raw port in the peer namespace: sends a frame and waits for the first
    /// received frame `matching` it, timing the round trip on the peer.
    final class Prober: Sendable {
        private struct Waiting: Sendable {
            var matches: @Sendable ([UInt8]) -> Bool
            var done: DispatchSemaphore
            var seen: ContinuousClock.Instant?
        }
        private final class Pending: Sendable {
            let waiting = Mutex<Waiting?>(nil)
        }
        private let port: any PacketPort
        private let pending = Pending()

        init(namespace: String, interface: NetworkInterface) throws {
            port = try LinuxPacketNetwork(namespace: NetworkNamespace(named: namespace)).open(interface)
            let pending = self.pending
            port.start { frame in
                let now = ContinuousClock.now
                pending.waiting.withLock { waiting in
                    guard let current = waiting, current.seen == nil, current.matches(frame) else { return }
                    waiting = Waiting(matches: current.matches, done: current.done, seen: now)
                    current.done.signal()
                }
            }
        }

        /// Round trip in microseconds, or nil when nothing matched within 100 ms.
        func roundTrip(send frame: [UInt8]?, expecting matches: @escaping @Sendable ([UInt8]) -> Bool,
                       start: () -> Void = {}) throws -> Double? {
            let semaphore = DispatchSemaphore(value: 0)
            pending.waiting.withLock { $0 = Waiting(matches: matches, done: semaphore, seen: nil) }
            let sent = ContinuousClock.now
            start()
            if let frame { try port.send(frame) }
            let answered = semaphore.wait(timeout: .now() + .milliseconds(100)) == .success
            let seen = pending.waiting.withLock { waiting in defer { waiting = nil }; return waiting?.seen }
            guard answered, let seen else { return nil }
            let elapsed = seen - sent
            return Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
        }

        func close() { port.close() }
    }

    static func arpRequest(for target: String) -> [UInt8] {
        ARPPacket(operation: .request, senderMAC: peerMAC, senderIP: IPv4Address("198.51.100.2")!,
                  targetMAC: .zero, targetIP: IPv4Address(target)!).frame(from: peerMAC, to: .broadcast)
    }

    static func isARPReply(from address: String) -> @Sendable ([UInt8]) -> Bool {
        { bytes in
            guard let frame = try? EthernetFrame(decoding: bytes), let arp = try? ARPPacket(decoding: frame.payload)
            else { return false }
            return arp.operation == .reply && arp.senderIP.description == address && frame.destination == peerMAC
        }
    }

    static func neighborSolicitation(for target: String) -> [UInt8] {
        let target = IPv6Address(target)!
        return NDPMessage.solicitation(NeighborSolicitation(target: target, options: [.sourceLinkLayerAddress(peerMAC)]))
            .frame(from: peerMAC, to: MACAddress(ipv6Multicast: target.solicitedNodeMulticast),
                   source: IPv6Address("2001:db8:1::2")!, destination: target.solicitedNodeMulticast)
    }

    static func isNeighborAdvertisement(for address: String, solicited: Bool) -> @Sendable ([UInt8]) -> Bool {
        { bytes in
            guard let frame = try? EthernetFrame(decoding: bytes), let packet = try? IPv6Packet(decoding: frame.payload),
                  case .advertisement(let na)? = try? NDPMessage(validating: packet) else { return false }
            return na.target.description == address && na.solicited == solicited
        }
    }

    static func isGratuitous(for address: String) -> @Sendable ([UInt8]) -> Bool {
        { bytes in
            guard let frame = try? EthernetFrame(decoding: bytes), let arp = try? ARPPacket(decoding: frame.payload)
            else { return false }
            return arp.senderIP == arp.targetIP && arp.senderIP.description == address
        }
    }

    static func percentiles(_ samples: [Double]) -> String {
        guard !samples.isEmpty else { return "no answers" }
        let sorted = samples.sorted()
        func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
        func us(_ v: Double) -> String { String(format: "%7.1f µs", v) }
        return "p50 \(us(p(0.5)))  p99 \(us(p(0.99)))  max \(us(sorted.last!))  (n=\(sorted.count))"
    }

    @Test func measure() async throws {
        try requireRootAndTools()
        let requests = Int(ProcessInfo.processInfo.environment["L2_BENCH_REQUESTS"] ?? "") ?? 1000
        let topology = Topology()
        defer { topology.destroy() }
        let node = try topology.namespace("node")
        let peer = try topology.namespace("peer")
        try topology.link(node, "eth0", mac: "02:b1:00:00:00:01", to: peer, "p0")
        try Command.run(["ip", "-n", peer, "link", "set", "p0", "address", Self.peerMAC.description])
        try topology.address(node, "eth0", "198.51.100.1/24")
        try topology.address(node, "eth0", "2001:db8:1::1/64")
        try topology.address(peer, "p0", "198.51.100.2/24")
        try topology.address(peer, "p0", "2001:db8:1::2/64")
        try topology.vipLink(node, addresses: ["198.51.100.10/32", "2001:db8:1::10/128"])

        let ballast = try await RunningAnnouncer(namespace: node, settings: L2AnnounceSettings(garpCount: 1))
        let peerInterface = try #require(try LinuxInterfaceDirectory(namespace: NetworkNamespace(named: peer))
            .interfaces().first { $0.name == "p0" })
        let prober = try Prober(namespace: peer, interface: peerInterface)
        defer { prober.close() }

        // Takeover: from the call to the first gratuitous frame the peer receives.
        // Another address stays announced, so the interface's sockets are open,
        // as on a node that already announces something.
        let keeper: [IPAddress: L2InterfaceSelection] = [IPAddress("198.51.100.12")!: .automatic]
        await ballast.announcer.setAnnounced(keeper)
        var takeover: [Double] = []
        for _ in 0..<50 {
            let vip = IPAddress("198.51.100.10")!
            let announcer = ballast.announcer
            let elapsed = try prober.roundTrip(send: nil, expecting: Self.isGratuitous(for: "198.51.100.10")) {
                let done = DispatchSemaphore(value: 0)
                Task { await announcer.setAnnounced(keeper.merging([vip: .automatic]) { a, _ in a }); done.signal() }
                done.wait()
            }
            if let elapsed { takeover.append(elapsed) }
            await ballast.announcer.setAnnounced(keeper)
        }
        await ballast.announcer.setAnnounced([IPAddress("198.51.100.10")!: .automatic,
                                              IPAddress("2001:db8:1::10")!: .automatic])

        func series(_ frame: [UInt8], _ matches: @escaping @Sendable ([UInt8]) -> Bool) throws -> [Double] {
            for _ in 0..<50 { _ = try prober.roundTrip(send: frame, expecting: matches) }  // warm up
            return try (0..<requests).compactMap { _ in try prober.roundTrip(send: frame, expecting: matches) }
        }
        let ballastARP = try series(Self.arpRequest(for: "198.51.100.10"), Self.isARPReply(from: "198.51.100.10"))
        let kernelARP = try series(Self.arpRequest(for: "198.51.100.1"), Self.isARPReply(from: "198.51.100.1"))
        let ballastNDP = try series(Self.neighborSolicitation(for: "2001:db8:1::10"),
                                    Self.isNeighborAdvertisement(for: "2001:db8:1::10", solicited: true))
        let kernelNDP = try series(Self.neighborSolicitation(for: "2001:db8:1::1"),
                                   Self.isNeighborAdvertisement(for: "2001:db8:1::1", solicited: true))
        try await ballast.stop()

        let report = """
            L2 reply latency seen from the peer over a veth (\(requests) requests each)
              ARP     Ballast  \(Self.percentiles(ballastARP))
              ARP     kernel   \(Self.percentiles(kernelARP))
              NS→NA   Ballast  \(Self.percentiles(ballastNDP))
              NS→NA   kernel   \(Self.percentiles(kernelNDP))
            Takeover: setAnnounced → first gratuitous ARP at the peer (\(takeover.count) runs)
                               \(Self.percentiles(takeover))

            """
        if let path = ProcessInfo.processInfo.environment["BALLAST_L2_BENCH_OUT"] {
            try report.write(toFile: path, atomically: true, encoding: .utf8)
        } else {
            print(report)
        }
    }
}
