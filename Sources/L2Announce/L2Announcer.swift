import BallastCore
import FoundationEssentials
import L2Frames
import Logging
import Metrics

/// Makes addresses reachable on the local segment by answering ARP and
/// neighbour solicitations for them from this node, like MetalLB's layer-2
/// mode. The daemon decides which addresses this node announces (exactly one
/// node per address) and calls `setAnnounced`; `run` keeps interfaces and
/// ports current until cancelled. Addresses it only keeps while connections
/// drain are answered without being taken over: no gratuitous frames.
///
/// Replies are sent on the ports' own threads; the actor owns the plan:
/// which address goes out of which interface, the gratuitous bursts, the
/// periodic refresh and the interface scans.
public actor L2Announcer {
    private let settings: L2AnnounceSettings
    private let logger: Logger
    private let directory: any InterfaceDirectory
    private let network: any PacketNetwork
    private let clock: any Clock<Duration>
    private let metricsFactory: any MetricsFactory
    private let now: @Sendable () -> Date

    /// Every address answered, announced or answer-only.
    private var desired: [IPAddress: L2InterfaceSelection] = [:]
    /// Those of `desired` answered without gratuitous frames.
    private var answerOnly: Set<IPAddress> = []
    /// The answer-only addresses answered at the last reconcile: changes of mode are logged.
    private var answeringOnlyNow: Set<IPAddress> = []
    private var running = false
    private var links: [String: LinkResponder] = [:]
    private var assignment = Assignment(desired: [:], available: [])
    /// Every (address, interface) announced: its burst was started.
    private var announced: Set<AnnouncementKey> = []
    /// Their rounds still to send (bursts, refreshes), and the one task that
    /// sends them (see AnnouncementSchedule).
    private var schedule: AnnouncementSchedule<AnnouncementKey>
    private var pacer: Task<Void, Never>?
    /// When the pacer's current sleep ends.
    private var pacerWakes: Duration?
    private let stopwatch: Stopwatch
    private var since: [IPAddress: Date] = [:]
    /// Interfaces whose arp_* sysctls were checked, by name, with the ifindex
    /// seen then: a link created again under the same name is checked again.
    private var preparedSysctls: [String: Int32] = [:]
    private let conflicts = ConflictLedger()

    private struct AnnouncementKey: Hashable, Comparable {
        var address: IPAddress
        var interface: String
        var mac: MACAddress

        static func < (a: Self, b: Self) -> Bool {
            (a.address, a.interface, a.mac) < (b.address, b.interface, b.mac)
        }
    }

    /// - Parameters:
    ///   - interfaces, packets: the kernel; Linux implementations by default,
    ///     fakes from BallastFakes in tests.
    ///   - clock: paces bursts, refreshes and scans.
    ///   - now: wall-clock time for the status ("announcing since").
    public init(settings: L2AnnounceSettings = L2AnnounceSettings(), logger: Logger,
                interfaces: any InterfaceDirectory = LinuxInterfaceDirectory(),
                packets: any PacketNetwork = LinuxPacketNetwork(),
                clock: any Clock<Duration> = ContinuousClock(),
                metrics: any MetricsFactory = MetricsSystem.factory,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.settings = settings
        self.logger = logger
        self.directory = interfaces
        self.network = packets
        self.clock = clock
        self.metricsFactory = metrics
        self.now = now
        schedule = AnnouncementSchedule(burstCount: settings.garpCount, burstInterval: settings.garpInterval,
                                        refreshInterval: settings.refreshInterval)
        stopwatch = Stopwatch(clock)
    }

    /// Announces until the task is cancelled, then stops answering, stops all
    /// bursts and closes every port. Throws only when interfaces cannot be
    /// listed at start; later failures are logged and retried at the next scan.
    public func run() async throws {
        _ = try directory.interfaces()
        running = true
        defer { shutDown() }
        reconcile()
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: settings.rescanInterval)
            } catch {
                break
            }
            reconcile()
        }
    }

    /// Replaces the set of addresses this node announces. New addresses get
    /// their first gratuitous round before this returns (when running);
    /// removed ones are not answered any more once it returns.
    ///
    /// - Parameter answering: addresses to answer requests for without
    ///   announcing them: no gratuitous burst, no refresh. For an address
    ///   this node keeps only while connections drain through it, which
    ///   must stay reachable to clients that re-resolve it but must not be
    ///   taken over. An address in both is announced.
    public func setAnnounced(_ addresses: [IPAddress: L2InterfaceSelection],
                             answering: [IPAddress: L2InterfaceSelection] = [:]) {
        desired = answering.merging(addresses) { _, announced in announced }
        answerOnly = Set(answering.keys).subtracting(addresses.keys)
        if running { reconcile() }
    }

    public func snapshot() -> L2Status {
        let conflictRecords = conflicts.all
        var answeredOn: [IPAddress: [String]] = [:]
        for (address, names) in assignment.interfaces {
            answeredOn[address] = names.filter { links[$0] != nil }
        }
        let addresses = Set(desired.keys).union(conflictRecords.keys).sorted().map { address in
            var problems: [String] = []
            if let problem = desired[address] == nil ? "not announced by this node" : assignment.problems[address] {
                problems.append(problem)
            }
            let unopened = (assignment.interfaces[address] ?? []).filter { links[$0] == nil }.sorted()
            if !unopened.isEmpty {
                problems.append("cannot open packet sockets on \(unopened.joined(separator: ", ")) (see log)")
            }
            return L2Status.Address(
                address: address, interfaces: (answeredOn[address] ?? []).sorted(), announcingSince: since[address],
                answerOnly: answerOnly.contains(address),
                problem: problems.isEmpty ? nil : problems.joined(separator: "; "), conflicts: conflictRecords[address])
        }
        let interfaces = links.values.sorted { $0.interface.name < $1.interface.name }.map {
            L2Status.Interface(name: $0.interface.name, mac: $0.mac, counters: $0.snapshotCounters)
        }
        return L2Status(addresses: addresses, interfaces: interfaces)
    }

    // MARK: Reconcile

    private func reconcile() {
        let available: [NetworkInterface]
        do {
            available = try directory.interfaces()
        } catch {
            logger.error("cannot list interfaces; keeping the previous announcement plan",
                         metadata: ["error": "\(error)"])
            return
        }
        if settings.manageSysctls { prepareSysctls(available.filter(\.canAnnounce)) }

        let next = Assignment(desired: desired, available: available)
        for (address, problem) in next.problems where assignment.problems[address] != problem {
            logger.warning("address not announced everywhere asked", metadata: [
                "l2.address": "\(address)", "l2.problem": "\(problem)",
            ])
        }
        assignment = next
        openAndCloseLinks(available: available, needed: Set(next.interfaces.values.joined()))

        // Tell every responder what to answer before starting or stopping bursts,
        // so a released address is silent at once and a new one answered at once.
        var perLink: [String: Set<IPAddress>] = [:]
        for (address, names) in next.interfaces {
            for name in names where links[name] != nil { perLink[name, default: []].insert(address) }
        }
        let ownMACs = Set(links.values.map(\.mac))
        for (name, link) in links {
            link.update(announced: perLink[name] ?? [], ownMACs: ownMACs)
        }

        // Answer-only addresses get no burst; one announced before loses its
        // burst or refresh, and one announced again gets a burst anew.
        let wanted = Set(perLink.flatMap { name, addresses in
            addresses.subtracting(answerOnly).map { AnnouncementKey(address: $0, interface: name, mac: links[name]!.mac) }
        })
        for key in announced.subtracting(wanted) {
            announced.remove(key)
            schedule.stop(key)
        }
        // The first round now (the takeover latency is this call), the rest
        // from the pacer.
        let started = stopwatch.elapsed()
        for key in wanted.subtracting(announced).sorted() {
            links[key.interface]!.announce(key.address)
            announced.insert(key)
            schedule.started(key, at: started)
        }
        pace()
        let answeredNow = Set(perLink.values.joined())
        since = since.filter { answeredNow.contains($0.key) }
        let onlyNow = answeredNow.intersection(answerOnly)
        for address in answeredNow where since[address] == nil || onlyNow.contains(address) != answeringOnlyNow.contains(address) {
            if since[address] == nil { since[address] = now() }
            let only = onlyNow.contains(address)
            logger.info(only ? "answering requests only, while connections drain" : "announcing", metadata: [
                "l2.address": "\(address)",
                "l2.interfaces": "\(next.interfaces[address, default: []].sorted().joined(separator: ","))",
            ])
        }
        answeringOnlyNow = onlyNow
    }

    private func openAndCloseLinks(available: [NetworkInterface], needed: Set<String>) {
        let current = Dictionary(available.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (name, link) in links {
            // Gone, not needed, down, recreated (new ifindex) or new MAC: close,
            // and reopen below if still needed.
            let keep = current[name].map {
                needed.contains(name) && $0.canAnnounce && $0.index == link.interface.index && $0.mac == link.mac
            } ?? false
            if !keep {
                link.close()
                links[name] = nil
                logger.debug("closed packet port", metadata: ["l2.interface": "\(name)"])
            }
        }
        for name in needed where links[name] == nil {
            guard let interface = current[name], let mac = interface.mac else { continue }
            do {
                let port = try network.open(interface)
                let link = LinkResponder(interface: interface, mac: mac, port: port, conflicts: conflicts,
                                         metrics: metricsFactory, logger: logger, now: now)
                link.start()
                links[name] = link
                logger.debug("opened packet port", metadata: ["l2.interface": "\(name)", "l2.mac": "\(mac)"])
            } catch {
                logger.error("cannot open packet port; addresses on it are not announced",
                             metadata: ["l2.interface": "\(name)", "error": "\(error)"])
            }
        }
    }

    /// Makes the pacer wake for the earliest round due: a new one if none
    /// runs or the one running sleeps past it, none if nothing is due.
    private func pace() {
        guard let due = schedule.nextDue else {
            stopPacer()
            return
        }
        if pacer != nil, let wakes = pacerWakes, wakes <= due { return }
        stopPacer()
        pacerWakes = due
        pacer = Task { await self.sendRounds() }
    }

    private func stopPacer() {
        pacer?.cancel()
        pacer = nil
        pacerWakes = nil
    }

    /// The pacer: sleeps until the earliest round is due, sends every round
    /// due then, until none is left or a newer pacer replaces it.
    private func sendRounds() async {
        while let due = schedule.nextDue {
            pacerWakes = due
            let wait = due - stopwatch.elapsed()
            if wait > .zero {
                do {
                    try await clock.sleep(for: wait)
                } catch {
                    return  // Cancelled: stopped, or replaced by a pacer that wakes earlier.
                }
            }
            guard !Task.isCancelled else { return }
            for key in schedule.takeDue(at: stopwatch.elapsed()) {
                links[key.interface]?.announce(key.address)
            }
        }
        // Nothing left to send; this task ends (cancelling it is a no-op).
        stopPacer()
    }

    /// arp_ignore=1: answer ARP only for addresses on the receiving interface,
    /// so the kernel never answers for VIPs held on the NOARP dummy link (on
    /// this node or any other). arp_announce=2: never use such an address as
    /// the source of the kernel's own ARP requests. The kernel applies the
    /// larger of the interface's and "all"'s value, so only lower values are raised.
    private func prepareSysctls(_ interfaces: [NetworkInterface]) {
        for interface in interfaces where preparedSysctls[interface.name] != interface.index {
            preparedSysctls[interface.name] = interface.index
            for (name, minimum) in [("arp_ignore", 1), ("arp_announce", 2)] {
                let key = "net/ipv4/conf/\(interface.name)/\(name)"
                do {
                    let current = Int(try directory.sysctl(key)) ?? 0
                    // arp_ignore 1..3 and 8 all keep the kernel quiet for foreign addresses.
                    guard current < minimum else { continue }
                    try directory.setSysctl(key, to: String(minimum))
                    logger.info("set \(name)=\(minimum)", metadata: ["l2.interface": "\(interface.name)"])
                } catch {
                    logger.error("cannot set \(name)=\(minimum); the kernel may answer ARP for VIPs itself",
                                 metadata: ["l2.interface": "\(interface.name)", "error": "\(error)"])
                }
            }
        }
    }

    private func shutDown() {
        running = false
        stopPacer()
        schedule.removeAll()
        announced = []
        for link in links.values { link.close() }
        links = [:]
        since = [:]
        answeringOnlyNow = []
        assignment = Assignment(desired: [:], available: [])
    }
}
