// The kernel half of a sync: VIPs, IPVS, SNAT, in the order that keeps
// traffic flowing. Synchronous (netlink and nftables calls block), so the
// loop runs it on its own thread rather than on the concurrency pool.
//
// Order, and why:
// 1. add missing VIPs   — IPVS only sees packets to local addresses;
// 2. reconcile IPVS     — new services exist before anything announces them;
// 3. replace SNAT table — rules reference the VIP:ports just programmed;
// 4. remove stale VIPs  — after their virtual services are gone, so no
//                         packet to a still-announced address is dropped;
//                         one still draining connections stays until they end.
//
// Ownership: the dummy link is Ballast's alone, so every address on it is
// Ballast's to remove. An IPVS virtual service is Ballast's when its address
// is on that link or inside a configured pool; anything else in the table
// (kube-proxy's, an operator's ipvsadm entries, firewall-mark services) is
// never touched. The nftables table is Ballast's own.
import BallastCore
import Dispatch
import Synchronization

public struct DataPlaneOutcome: Sendable, Hashable {
    public var vipsAdded: [IPAddress] = []
    public var vipsRemoved: [IPAddress] = []
    /// Whether the SNAT table was rewritten.
    public var snatReplaced = false
    /// Whether the SNAT table could not be read or written.
    public var snatFailed = false
    public var ipvs = IPVSReconcileReport()
    public var ipvsDuration: Duration = .zero
    /// VIPs no node announces, kept on the link while connections drain
    /// through them: this node answers ARP/NDP for them without taking them
    /// over (answer-only announcements), so that a client whose neighbour
    /// cache entry expires finds the node again. Sorted by address.
    public var draining: [Announcement] = []
    /// Every failure, as a sentence naming the operation and object.
    public var errors: [String] = []

    public init() {}
}

/// The part of the data plane an incremental sync changes: the virtual
/// services and the SNAT rules of the Services it planned again. The rest of
/// the plan is the last sync's, which the kernel took (the tables remembered
/// between syncs say so), so the diffs look at this part alone.
public struct DataPlaneScope: Sendable, Hashable {
    public var virtualServices: Set<VirtualServiceKey>
    /// SNAT is scoped by address: a masquerade pair (VIP → endpoint) serves
    /// every port of the VIP.
    public var snatAddresses: Set<IPAddress>
    /// The rules on those addresses that the table holds: the last plan's.
    public var snatBefore: [SNATRule]

    public init(virtualServices: Set<VirtualServiceKey>, snatAddresses: Set<IPAddress>, snatBefore: [SNATRule]) {
        self.virtualServices = virtualServices
        self.snatAddresses = snatAddresses
        self.snatBefore = snatBefore
    }

    /// The virtual services of `services` before and after, and their
    /// addresses. Enough: another Service's virtual service changes only
    /// with a port one of these held or takes (they share the address), and
    /// all rules on an address are in scope with it.
    public init(services: Set<ObjectRef>, before: DesiredState, after: DesiredState) {
        var keys: Set<VirtualServiceKey> = []
        for ref in services {
            keys.formUnion(before.services[ref]?.virtualServices ?? [])
            keys.formUnion(after.services[ref]?.virtualServices ?? [])
        }
        var addresses: Set<IPAddress> = []
        for key in keys {
            if case .address(let address, _, _) = key { addresses.insert(address) }
        }
        self.init(virtualServices: keys, snatAddresses: addresses,
                  snatBefore: addresses.isEmpty ? [] : before.snat.filter { addresses.contains($0.address) })
    }
}

public struct DataPlaneApplier: Sendable {
    public var ipvs: any IPVSReconciling
    public var vips: any VIPControl
    public var snat: any SNATControl

    public init(ipvs: any IPVSReconciling, vips: any VIPControl, snat: any SNATControl) {
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
    }

    /// - Parameter scope: nil diffs every virtual service and SNAT rule;
    ///   else only those in scope (VIPs are always diffed in full: the link
    ///   holds only the ~1,000 addresses this node announces).
    public func apply(_ state: DesiredState, pools: [AddressPool], scope: DataPlaneScope? = nil) -> DataPlaneOutcome {
        var outcome = DataPlaneOutcome()
        // The whole SNAT table (100,000 elements at 10,000 Services) is built
        // on another core while the VIPs and the IPVS table are diffed.
        let fullSNAT = scope == nil ? BackgroundValue { SNATTable(rules: state.snat) } : nil
        var onLink: Set<IPAddress> = []
        do {
            try vips.ensureLink()
            onLink = try vips.addresses()
        } catch {
            outcome.errors.append(error.description)
        }
        let changes = VIPChanges(desired: Set(state.vips), current: onLink)
        for address in changes.add {
            do {
                try vips.add(address)
                outcome.vipsAdded.append(address)
            } catch {
                outcome.errors.append(error.description)
            }
        }

        let ownership = Self.ownership(pools: pools, onLink: onLink.union(state.vips))
        let clock = ContinuousClock()
        let start = clock.now
        if let scope {
            outcome.ipvs = ipvs.reconcile(desired: state.ipvs, scope: scope.virtualServices, ownership: ownership)
        } else {
            outcome.ipvs = ipvs.reconcile(desired: state.ipvs, ownership: ownership)
        }
        outcome.ipvsDuration = start.duration(to: clock.now)
        outcome.errors += outcome.ipvs.errors.map(\.description)

        do {
            if let fullSNAT {
                outcome.snatReplaced = try SNATReconcile.apply(desired: fullSNAT.wait(), to: snat)
            } else if let scope {
                outcome.snatReplaced = try SNATReconcile.apply(desired: state.snat, addresses: scope.snatAddresses,
                                                               holding: scope.snatBefore, to: snat)
            }
        } catch {
            outcome.snatFailed = true
            outcome.errors.append(error.description)
        }

        // A VIP that no node announces any more (its Service lost its last
        // ready endpoint) stays while a virtual service on it still drains
        // connections at weight 0: removing the address would cut the very
        // connections the drain keeps, as the kernel no longer delivers their
        // packets locally. The announcer keeps answering for it (see
        // `draining`). One that another node now announces goes at once.
        let announced = Set(state.announcements.map(\.address))
        let draining = Self.drainingAddresses(outcome.ipvs.table)
        var kept: [IPAddress] = []
        for address in changes.remove {
            if !announced.contains(address) && draining.contains(address) {
                kept.append(address)
                continue
            }
            do {
                try vips.remove(address)
                outcome.vipsRemoved.append(address)
            } catch {
                outcome.errors.append(error.description)
            }
        }
        outcome.draining = Self.answerOnly(kept, state: state, pools: pools)
        return outcome
    }

    /// Answer-only announcements by this node for VIPs kept while they drain,
    /// on the interfaces their pool names (nil, as for any announcement: the
    /// interface whose subnet holds the address). An address whose pool left
    /// the configuration is answered on that automatic interface too: its
    /// connections drain all the same.
    static func answerOnly(_ kept: [IPAddress], state: DesiredState, pools: [AddressPool]) -> [Announcement] {
        guard !kept.isEmpty else { return [] }
        let wanted = Set(kept)
        var users: [IPAddress: [ObjectRef]] = [:]
        for plan in state.services.values {
            for address in plan.addresses where wanted.contains(address) { users[address, default: []].append(plan.ref) }
        }
        return kept.sorted().map { address in
            let pool = pools.first { $0.contains(address) }
            return Announcement(address: address, node: state.node, pool: pool?.name ?? "", interfaces: pool?.interfaces,
                                services: (users[address] ?? []).sorted(), answerOnly: true)
        }
    }

    /// Addresses of virtual services with a weight-0 destination that still
    /// has connections.
    static func drainingAddresses(_ table: IPVSKnownTable) -> Set<IPAddress> {
        var addresses: Set<IPAddress> = []
        for key in table.drainingKeys {
            if case .address(let address, _, _) = key { addresses.insert(address) }
        }
        return addresses
    }

    /// The pools' ranges as prefixes, and every address on Ballast's link as
    /// a host prefix (so a service whose pool was removed from the
    /// configuration is still recognised as Ballast's and cleaned up).
    public static func ownership(pools: [AddressPool], onLink: Set<IPAddress>) -> IPVSOwnership {
        let prefixes = pools.flatMap { $0.ranges.flatMap(\.coveringPrefixes) } + onLink.sorted().map { CIDR(host: $0) }
        return IPVSOwnership(prefixes: prefixes)
    }
}

extension AddressRange {
    /// The fewest prefixes that together hold exactly this range
    /// (192.0.2.10-192.0.2.17 → .10/31, .12/30, .16/31).
    public var coveringPrefixes: [CIDR] {
        var result: [CIDR] = []
        var next: IPAddress? = first
        while let start = next, start <= last {
            // The shortest prefix that starts at `start` and ends inside the range.
            var block = CIDR(host: start)
            for length in stride(from: start.family.bitWidth - 1, through: 0, by: -1) {
                let candidate = CIDR(network: start, prefixLength: length)
                guard candidate.network == start, candidate.last <= last else { break }
                block = candidate
            }
            result.append(block)
            next = block.last.advanced(by: 1)
        }
        return result
    }
}

/// A value computed on another thread while the caller goes on. The applier
/// runs on the kernel thread, not on Swift's cooperative pool, so waiting for
/// it blocks no task.
final class BackgroundValue<T: Sendable>: Sendable {
    private let finished = DispatchSemaphore(value: 0)
    private let value = Mutex<T?>(nil)

    init(_ body: @escaping @Sendable () -> T) {
        DispatchQueue.global().async {
            let result = body()
            self.value.withLock { $0 = result }
            self.finished.signal()
        }
    }

    /// The value, once computed. Call it once.
    func wait() -> T {
        finished.wait()
        return value.withLock { $0.take()! }
    }
}

/// A serial queue for blocking kernel calls, so that they never occupy one
/// of the few threads of Swift's cooperative pool.
final class KernelQueue: Sendable {
    private let queue = DispatchQueue(label: "ballast.kernel")

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    /// Queues `body` without waiting for it; whatever is queued later runs after it.
    func start(_ body: @escaping @Sendable () -> Void) {
        queue.async(execute: body)
    }
}
