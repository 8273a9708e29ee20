import BallastCore
import BallastFakes
import FoundationEssentials
import L2Announce
import L2Frames
import Logging
import Metrics
import Synchronization
import Testing

enum Net {
    static let eth0MAC = MACAddress("02:00:00:00:00:01")!
    static let eth1MAC = MACAddress("02:00:00:00:00:11")!
    static let peerMAC = MACAddress("02:00:00:00:00:99")!

    static let eth0 = NetworkInterface(name: "eth0", index: 2, mac: eth0MAC,
                                       networks: [cidr("192.0.2.0/24"), cidr("2001:db8::/64")])
    static let eth1 = NetworkInterface(name: "eth1", index: 3, mac: eth1MAC, networks: [cidr("198.51.100.0/24")])
    /// Ballast's VIP link: holds the VIPs as host routes, never announces.
    static let dummy = NetworkInterface(name: "ballast0", index: 4, mac: MACAddress("02:00:00:00:00:dd")!,
                                        isNOARP: true, networks: [cidr("192.0.2.10/32"), cidr("2001:db8::10/128")])
    static let loopback = NetworkInterface(name: "lo", index: 1, mac: nil, isLoopback: true,
                                           networks: [cidr("127.0.0.0/8")])

    static func cidr(_ text: String) -> CIDR { try! CIDR(parsing: text, strict: false) }
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }
}

/// What a sent frame says, readable in expectations.
enum Sent: Hashable, CustomStringConvertible {
    case garpRequest(IPAddress, MACAddress)
    case garpReply(IPAddress, MACAddress)
    case arpReply(IPAddress, MACAddress, to: MACAddress)
    case unsolicitedNA(IPAddress, MACAddress)
    case solicitedNA(IPAddress, MACAddress, to: MACAddress)
    case other([UInt8])

    init(_ bytes: [UInt8]) {
        guard let frame = try? EthernetFrame(decoding: bytes) else { self = .other(bytes); return }
        if let arp = try? ARPPacket(decoding: frame.payload) {
            switch (arp.operation, frame.destination == .broadcast && arp.senderIP == arp.targetIP) {
            case (.request, true): self = .garpRequest(.v4(arp.senderIP), arp.senderMAC)
            case (.reply, true): self = .garpReply(.v4(arp.senderIP), arp.senderMAC)
            case (.reply, false): self = .arpReply(.v4(arp.senderIP), arp.senderMAC, to: frame.destination)
            default: self = .other(bytes)
            }
        } else if let packet = try? IPv6Packet(decoding: frame.payload),
                  case .advertisement(let na)? = try? NDPMessage(validating: packet),
                  let mac = na.options.targetLinkLayerAddress {
            self = na.solicited ? .solicitedNA(.v6(na.target), mac, to: frame.destination)
                                : .unsolicitedNA(.v6(na.target), mac)
        } else {
            self = .other(bytes)
        }
    }

    var description: String {
        switch self {
        case .garpRequest(let a, let m): "garp-request \(a) \(m)"
        case .garpReply(let a, let m): "garp-reply \(a) \(m)"
        case .arpReply(let a, let m, let to): "arp-reply \(a) \(m) → \(to)"
        case .unsolicitedNA(let a, let m): "unsolicited-na \(a) \(m)"
        case .solicitedNA(let a, let m, let to): "solicited-na \(a) \(m) → \(to)"
        case .other(let b): "other \(b.count) bytes"
        }
    }
}

extension FakePacketPort {
    var sentDecoded: [Sent] { sent.map(Sent.init) }
}

func arpRequest(for target: String, from mac: MACAddress = Net.peerMAC, sender: String = "192.0.2.99") -> [UInt8] {
    ARPPacket(operation: .request, senderMAC: mac, senderIP: IPv4Address(sender)!, targetMAC: .zero,
              targetIP: IPv4Address(target)!).frame(from: mac, to: .broadcast)
}

func neighborSolicitation(for target: String, from mac: MACAddress = Net.peerMAC,
                          source: String = "2001:db8::99") -> [UInt8] {
    let target = IPv6Address(target)!
    return NDPMessage.solicitation(NeighborSolicitation(target: target, options: [.sourceLinkLayerAddress(mac)]))
        .frame(from: mac, to: MACAddress(ipv6Multicast: target.solicitedNodeMulticast),
               source: IPv6Address(source)!, destination: target.solicitedNodeMulticast)
}

/// Waits (in real time, bounded) for something another task does. The bound
/// is generous: with every suite running in parallel on a 2-core machine the
/// announcer's tasks can wait seconds for a thread; a correct test never
/// gets near it.
func eventually(_ what: String, within limit: Duration = .seconds(60), _ condition: () async -> Bool) async {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return }
        try? await Task.sleep(for: .milliseconds(2))
    }
    Issue.record("timed out waiting for \(what)")
}

/// The announcer wired to fakes and running, as the daemon would run it.
struct Harness {
    let directory: FakeL2InterfaceDirectory
    let network = FakePacketNetwork()
    let clock = FakeL2Clock()
    let metrics = RecordingMetrics()
    let announcer: L2Announcer
    let runTask: Task<Void, any Error>
    static let startDate = Date(timeIntervalSince1970: 1_800_000_000)

    init(settings: L2AnnounceSettings = L2AnnounceSettings(garpCount: 3, rescanInterval: .seconds(3600)),
         interfaces: [NetworkInterface] = [Net.loopback, Net.eth0, Net.eth1, Net.dummy]) async {
        directory = FakeL2InterfaceDirectory(interfaces)
        announcer = L2Announcer(settings: settings, logger: Logger(label: "test.l2"), interfaces: directory,
                                packets: network, clock: clock, metrics: metrics, now: { Harness.startDate })
        let announcer = self.announcer
        runTask = Task { try await announcer.run() }
        let clock = self.clock
        // The run loop sleeping on the clock means its first reconcile is done.
        await eventually("the announcer to start") { clock.sleeperCount >= 1 }
    }

    func port(_ name: String = "eth0") -> FakePacketPort? { network.port(name) }

    /// Waits until exactly `sleepers` tasks are parked on the clock (the run
    /// loop is one, each burst or refresh another), then moves time forward.
    func advance(by duration: Duration, sleepers: Int) async {
        await settle(sleepers)
        clock.advance(by: duration)
    }

    /// Waits until `sleepers` tasks are parked on the clock: every woken task
    /// has done its work and slept again or ended.
    func settle(_ sleepers: Int) async {
        let clock = self.clock
        await eventually("\(sleepers) tasks asleep on the clock") { clock.sleeperCount == sleepers }
    }

    func stop() async throws {
        runTask.cancel()
        try await runTask.value
    }
}

/// A MetricsFactory that keeps counter values by label and dimensions.
final class RecordingMetrics: MetricsFactory {
    private let values = Mutex<[String: Int64]>([:])

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        label + dimensions.map { "{\($0.0)=\($0.1)}" }.joined()
    }

    func value(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        values.withLock { $0[Self.key(label, dimensions)] ?? 0 }
    }

    var keys: Set<String> { values.withLock { Set($0.keys) } }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(key: Self.key(label, dimensions), values: self)
    }
    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        NOOPMetricsHandler.instance
    }
    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        NOOPMetricsHandler.instance
    }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    fileprivate func add(_ amount: Int64, to key: String) {
        values.withLock { $0[key, default: 0] += amount }
    }

    private final class Handler: CounterHandler {
        let key: String
        let values: RecordingMetrics
        init(key: String, values: RecordingMetrics) {
            self.key = key
            self.values = values
            values.add(0, to: key)
        }
        func increment(by amount: Int64) { values.add(amount, to: key) }
        func reset() {}
    }
}
