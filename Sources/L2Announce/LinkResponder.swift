import BallastCore
import FoundationEssentials
import L2Frames
import Logging
import Metrics
import Synchronization

/// Conflicts seen on every link, by address. Written by the receiving
/// threads, read by `L2Announcer.snapshot()`.
final class ConflictLedger: Sendable {
    private let records = Mutex<[IPAddress: ConflictRecord]>([:])

    /// Records `conflict`; true when it is news worth a warning (a new MAC
    /// for the address, or a minute since the last warning), so a peer that
    /// keeps sending gratuitous ARP does not flood the log.
    func record(_ conflict: Conflict, on interface: String, at now: Date) -> Bool {
        records.withLock { records in
            let previous = records[conflict.address]
            records[conflict.address] = ConflictRecord(
                count: (previous?.count ?? 0) + 1, lastMAC: conflict.mac, lastSeen: now,
                lastInterface: interface, lastEvidence: conflict.evidence)
            guard let previous else { return true }
            return previous.lastMAC != conflict.mac || now.timeIntervalSince(previous.lastSeen) >= 60
        }
    }

    var all: [IPAddress: ConflictRecord] { records.withLock { $0 } }
}

/// The metrics of one interface. Labels are the interface and, for drops,
/// the reason: bounded sets, never an address.
struct LinkMetrics: Sendable {
    let requests: Counter
    let replies: Counter
    let gratuitous: Counter
    let conflicts: Counter
    let sendErrors: Counter
    let drops: [DropReason: Counter]

    init(interface: String, factory: any MetricsFactory) {
        let labels = [("interface", interface)]
        requests = Counter(label: "ballast_l2_requests_received_total", dimensions: labels, factory: factory)
        replies = Counter(label: "ballast_l2_replies_sent_total", dimensions: labels, factory: factory)
        gratuitous = Counter(label: "ballast_l2_gratuitous_sent_total", dimensions: labels, factory: factory)
        conflicts = Counter(label: "ballast_l2_conflicts_total", dimensions: labels, factory: factory)
        sendErrors = Counter(label: "ballast_l2_send_errors_total", dimensions: labels, factory: factory)
        drops = Dictionary(uniqueKeysWithValues: DropReason.allCases.map { reason in
            (reason, Counter(label: "ballast_l2_dropped_frames_total",
                             dimensions: labels + [("reason", reason.rawValue)], factory: factory))
        })
    }
}

/// One announcement interface: its packet port and what it answers for.
/// Frames are answered on the port's receiving thread, without a hop through
/// the announcer actor, so a reply leaves within microseconds.
final class LinkResponder: Sendable {
    let interface: NetworkInterface
    let mac: MACAddress
    private let port: any PacketPort
    private let context: Mutex<ResponderContext>
    private let counters = Mutex(L2InterfaceCounters())
    private let metrics: LinkMetrics
    private let conflicts: ConflictLedger
    private let logger: Logger
    private let now: @Sendable () -> Date

    init(interface: NetworkInterface, mac: MACAddress, port: any PacketPort, conflicts: ConflictLedger,
         metrics: any MetricsFactory, logger: Logger, now: @escaping @Sendable () -> Date) {
        self.interface = interface
        self.mac = mac
        self.port = port
        self.context = Mutex(ResponderContext(mac: mac, announced: []))
        self.metrics = LinkMetrics(interface: interface.name, factory: metrics)
        self.conflicts = conflicts
        var logger = logger
        logger[metadataKey: "l2.interface"] = "\(interface.name)"
        self.logger = logger
        self.now = now
    }

    func start() {
        port.start { [self] frame in handle(frame) }
    }

    func close() { port.close() }

    /// Takes effect for the next received frame: a released address is not
    /// answered once this returns.
    func update(announced: Set<IPAddress>, ownMACs: Set<MACAddress>) {
        context.withLock { $0 = ResponderContext(mac: mac, announced: announced, ownMACs: ownMACs) }
        let groups = Set(announced.compactMap { address -> MACAddress? in
            guard case .v6(let v6) = address else { return nil }
            return MACAddress(ipv6Multicast: v6.solicitedNodeMulticast)
        })
        do {
            try port.setMulticastGroups(groups)
        } catch {
            logger.error("cannot join solicited-node multicast groups; IPv6 solicitations may not arrive",
                         metadata: ["error": "\(error)"])
        }
    }

    var snapshotCounters: L2InterfaceCounters { counters.withLock { $0 } }

    func handle(_ frame: [UInt8]) {
        let decision = respond(to: frame, context: context.withLock { $0 })
        if decision.isRequest {
            metrics.requests.increment()
            counters.withLock { $0.requestsReceived += 1 }
        }
        switch decision {
        case .reply(let reply):
            if send(reply.frame, what: "reply for \(reply.address)") {
                metrics.replies.increment()
                counters.withLock { $0.repliesSent += 1 }
            }
        case .conflict(let conflict):
            metrics.conflicts.increment()
            counters.withLock { $0.conflicts += 1 }
            if conflicts.record(conflict, on: interface.name, at: now()) {
                logger.warning("another station claims an address this node announces (split brain?)", metadata: [
                    "l2.address": "\(conflict.address)", "l2.mac": "\(conflict.mac)",
                    "l2.evidence": "\(conflict.evidence.rawValue)",
                ])
            }
        case .drop(let reason):
            metrics.drops[reason]?.increment()
            counters.withLock { $0.drops[reason, default: 0] += 1 }
        }
    }

    /// One round of gratuitous frames for `address`.
    func announce(_ address: IPAddress) {
        for frame in Announcement.frames(for: address, mac: mac) where send(frame, what: "gratuitous for \(address)") {
            metrics.gratuitous.increment()
            counters.withLock { $0.gratuitousSent += 1 }
        }
    }

    private func send(_ frame: [UInt8], what: @autoclosure () -> String) -> Bool {
        do {
            try port.send(frame)
            return true
        } catch {
            metrics.sendErrors.increment()
            counters.withLock { $0.sendErrors += 1 }
            logger.warning("cannot send \(what())", metadata: ["error": "\(error)"])
            return false
        }
    }
}
