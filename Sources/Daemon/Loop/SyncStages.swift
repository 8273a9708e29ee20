// The stages of one sync, each behind a seam so that the loop runs in unit
// tests with fakes, and the kernel pieces plug in without the loop knowing
// their internals:
//
//   snapshot → allocate → plan → reconcile (VIPs, IPVS, SNAT) → announce
//
// Allocation and planning are BallastCore's pure Allocator and Planner; their
// result types (AllocationResult, DesiredState) flow through unchanged.
import BallastCore

/// Allocates addresses: a pure function of the snapshot, the configuration
/// and the addresses each Service held before (kept whenever still valid).
public typealias AllocateStage = @Sendable (_ snapshot: ClusterSnapshot, _ configuration: Configuration,
                                            _ previous: [ObjectRef: [IPAddress]]) -> AllocationResult

/// Plans this node's data plane: a pure function.
public typealias PlanStage = @Sendable (_ snapshot: ClusterSnapshot, _ allocation: AllocationResult,
                                        _ configuration: Configuration, _ nodeName: String) -> DesiredState

/// Plans again only what changed: `previous` patched for the Services in
/// `changed` (and those sharing an address with them); must equal `PlanStage`
/// on the same inputs.
public typealias ReplanStage = @Sendable (_ previous: DesiredState, _ changed: Set<ObjectRef>, _ snapshot: ClusterSnapshot,
                                          _ allocation: AllocationResult, _ sharing: AddressSharing,
                                          _ configuration: Configuration, _ nodeName: String) -> DesiredState

public enum DefaultStages {
    /// BallastCore's Allocator.
    public static let allocate: AllocateStage = { snapshot, configuration, previous in
        Allocator(configuration: configuration).allocate(snapshot: snapshot, previous: previous)
    }

    /// BallastCore's Planner. Liveness: with a manifest directory as the source
    /// there is no membership protocol, so every Node the manifests list (and
    /// this node) counts as alive; a Node marked not Ready in its manifest
    /// (status.conditions) loses its announcements, which is how an operator
    /// moves addresses off a node.
    public static let plan: PlanStage = { snapshot, allocation, configuration, node in
        let live = Set(snapshot.nodes.keys).union([node])
        return Planner(configuration: configuration, nodeName: node).plan(snapshot: snapshot, allocation: allocation,
                                                                          liveNodes: live)
    }

    /// BallastCore's Planner, patching the previous plan (liveness as in `plan`).
    public static let replan: ReplanStage = { previous, changed, snapshot, allocation, sharing, configuration, node in
        let live = Set(snapshot.nodes.keys).union([node])
        return Planner(configuration: configuration, nodeName: node).replan(
            previous, changed: changed, snapshot: snapshot, allocation: allocation, sharing: sharing, liveNodes: live)
    }
}

/// What an IPVS reconcile did.
public struct IPVSReconcileReport: Sendable, Hashable {
    public var performed: [IPVSOperationKind: Int]
    /// Failed operations, with the virtual service each concerned.
    public var errors: [IPVSFailure]
    /// Desired services that could not be programmed, and why (another owner, ...).
    public var conflicts: [String]
    /// Destinations kept at weight 0 while their connections drain.
    public var draining: Int
    /// The table after the reconcile, for status: the reconciler's remembered
    /// table itself, not a copy (it shares its storage until the next round
    /// changes part of it).
    public var table: IPVSKnownTable
    /// The same table in dump form, built when read: status answers read
    /// `table` instead, one service at a time.
    public var observed: [ObservedVirtualService] {
        get { table.services }
        set { table = IPVSKnownTable(newValue) }
    }

    public init(performed: [IPVSOperationKind: Int] = [:], errors: [IPVSFailure] = [], conflicts: [String] = [],
                draining: Int = 0, observed: [ObservedVirtualService] = []) {
        self.init(performed: performed, errors: errors, conflicts: conflicts, draining: draining,
                  table: IPVSKnownTable(observed))
    }

    public init(performed: [IPVSOperationKind: Int] = [:], errors: [IPVSFailure] = [], conflicts: [String] = [],
                draining: Int = 0, table: IPVSKnownTable) {
        self.performed = performed
        self.errors = errors
        self.conflicts = conflicts
        self.draining = draining
        self.table = table
    }
}

public struct IPVSFailure: Sendable, Hashable, CustomStringConvertible {
    /// nil when the failure is not about one service (the dump itself failed).
    public var service: VirtualServiceKey?
    public var error: IPVSError

    public init(service: VirtualServiceKey?, error: IPVSError) {
        self.service = service
        self.error = error
    }

    public var description: String { error.description }
}

/// Makes the kernel's IPVS table match `desired` for the virtual services
/// `ownership` covers; never touches the others (kube-proxy's, an operator's).
public protocol IPVSReconciling: Sendable {
    func reconcile(desired: [IPVSVirtualService], ownership: IPVSOwnership) -> IPVSReconcileReport
    /// The same for the virtual services in `scope` alone: `desired` holds
    /// them (and may hold others, which are left alone), and the rest of the
    /// table is as the last round left it. A reconciler that cannot tell
    /// reconciles everything.
    func reconcile(desired: [IPVSVirtualService], scope: Set<VirtualServiceKey>, ownership: IPVSOwnership) -> IPVSReconcileReport
    /// Reads the kernel's table for the next round ahead of time (at start,
    /// while the manifests are decoded): the number of virtual services
    /// read, the failure, or nil when there is nothing to read ahead. A
    /// reconciler that cannot keep a read for later reads nothing.
    func readAhead() -> Result<Int, IPVSError>?
}

extension IPVSReconciling {
    public func readAhead() -> Result<Int, IPVSError>? { nil }

    public func reconcile(desired: [IPVSVirtualService], scope: Set<VirtualServiceKey>,
                          ownership: IPVSOwnership) -> IPVSReconcileReport {
        reconcile(desired: desired, ownership: ownership)
    }
}

/// Answers ARP/NDP for the addresses this node announces.
public protocol Announcing: Sendable {
    /// Keeps announcing until cancelled (a ServiceLifecycle service runs it).
    func run() async throws
    /// Makes `announcements` (this node's) the complete set: starts the new
    /// ones with a gratuitous burst (answer-only ones without), stops the
    /// ones no longer listed.
    func announce(_ announcements: [Announcement]) async
    /// Stops answering for everything, so that a peer's election takes over.
    func stopAll() async
}

/// The kernel-facing stages of a sync.
public struct SyncStages: Sendable {
    public var allocate: AllocateStage
    public var plan: PlanStage
    /// nil: every sync plans every Service.
    public var replan: ReplanStage?
    public var ipvs: any IPVSReconciling
    public var vips: any VIPControl
    public var snat: any SNATControl
    public var announcer: any Announcing
    /// Sysctls the data plane needs; returns the failures (see KernelControls).
    public var ensureSysctls: @Sendable () -> [String]
    /// Called before a resync or a reload applies the plan: kernel state
    /// remembered between syncs must be read again (RememberedSNATControl).
    public var forgetKernelView: @Sendable () -> Void

    public init(allocate: @escaping AllocateStage = DefaultStages.allocate, plan: @escaping PlanStage = DefaultStages.plan,
                replan: ReplanStage? = DefaultStages.replan, ipvs: any IPVSReconciling, vips: any VIPControl, snat: any SNATControl, announcer: any Announcing,
                ensureSysctls: @escaping @Sendable () -> [String] = { [] },
                forgetKernelView: @escaping @Sendable () -> Void = {}) {
        self.allocate = allocate
        self.plan = plan
        self.replan = replan
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
        self.announcer = announcer
        self.ensureSysctls = ensureSysctls
        self.forgetKernelView = forgetKernelView
    }
}
