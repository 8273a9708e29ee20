// The kernel half of a sync: VIPs, IPVS, SNAT, in the order that keeps
// traffic flowing. Synchronous (netlink and nftables calls block), so the
// loop runs it on its own thread rather than on the concurrency pool.
//
// Order, and why:
// 1. add missing VIPs   — IPVS only sees packets to local addresses;
// 2. reconcile IPVS     — new services exist before anything announces them;
// 3. replace SNAT table — rules reference the VIP:ports just programmed;
// 4. remove stale VIPs  — after their virtual services are gone, so no
//                         packet to a still-announced address is dropped.
//
// Ownership: the dummy link is Ballast's alone, so every address on it is
// Ballast's to remove. An IPVS virtual service is Ballast's when its address
// is on that link or inside a configured pool; anything else in the table
// (kube-proxy's, an operator's ipvsadm entries, firewall-mark services) is
// never touched. The nftables table is Ballast's own.
import BallastCore
import Foundation

public struct DataPlaneOutcome: Sendable, Hashable {
    public var vipsAdded: [IPAddress] = []
    public var vipsRemoved: [IPAddress] = []
    /// Whether the SNAT table was rewritten.
    public var snatReplaced = false
    public var ipvs = IPVSReconcileReport()
    public var ipvsDuration: Duration = .zero
    /// Every failure, as a sentence naming the operation and object.
    public var errors: [String] = []

    public init() {}
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

    public func apply(_ plan: SyncPlan, pools: [AddressPool]) -> DataPlaneOutcome {
        var outcome = DataPlaneOutcome()
        var onLink: Set<IPAddress> = []
        do {
            try vips.ensureLink()
            onLink = try vips.addresses()
        } catch {
            outcome.errors.append(error.description)
        }
        for address in plan.vips.subtracting(onLink).sorted() {
            do {
                try vips.add(address)
                outcome.vipsAdded.append(address)
            } catch {
                outcome.errors.append(error.description)
            }
        }

        let ours = onLink.union(plan.vips)
        let owns: @Sendable (VirtualServiceKey) -> Bool = { key in
            guard case .address(let address, _, _) = key else { return false }
            return ours.contains(address) || pools.contains { $0.contains(address) }
        }
        let clock = ContinuousClock()
        let start = clock.now
        outcome.ipvs = ipvs.reconcile(desired: plan.ipvs, owns: owns)
        outcome.ipvsDuration = start.duration(to: clock.now)
        outcome.errors += outcome.ipvs.errors.map(\.description)

        do {
            let desired = plan.snat.sorted()
            let current = try snat.current()?.sorted()
            // No table and nothing to put in it: leave nftables untouched on nodes that never need SNAT.
            if current != desired && !(current == nil && desired.isEmpty) {
                try snat.replace(with: desired)
                outcome.snatReplaced = true
            }
        } catch {
            outcome.errors.append(error.description)
        }

        for address in onLink.subtracting(plan.vips).sorted() {
            do {
                try vips.remove(address)
                outcome.vipsRemoved.append(address)
            } catch {
                outcome.errors.append(error.description)
            }
        }
        return outcome
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
}
