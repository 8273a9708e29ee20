// The stages of one sync, each behind a seam so that the loop runs in unit
// tests with fakes and the real pieces (allocator, planner, IPVS reconciler,
// announcer) plug in without the loop knowing their internals:
//
//   snapshot → allocate → plan → reconcile (VIPs, IPVS, SNAT) → announce
import BallastCore

/// What allocation decided.
public struct AllocationOutcome: Sendable, Hashable {
    /// Addresses per Service, including the ones kept from before: persisted as is.
    public var assignments: AssignmentTable
    /// Handled Services that did not get (all) their addresses, and why
    /// ("pool public has no free IPv4 address").
    public var problems: [ObjectRef: String]
    /// Services in the snapshot that Ballast leaves alone, and why
    /// ("type is ClusterIP", "loadBalancerClass other.io/lb is not ballast.io/lb").
    public var ignored: [ObjectRef: String]

    public init(assignments: AssignmentTable, problems: [ObjectRef: String] = [:], ignored: [ObjectRef: String] = [:]) {
        self.assignments = assignments
        self.problems = problems
        self.ignored = ignored
    }
}

/// Where and how this node announces an address.
public struct Announcement: Sendable, Hashable, Comparable {
    public var address: IPAddress
    /// Interface to announce on; nil = the interface whose subnet holds the address.
    public var interface: String?

    public init(address: IPAddress, interface: String? = nil) {
        self.address = address
        self.interface = interface
    }

    public static func < (a: Self, b: Self) -> Bool { (a.address, a.interface ?? "") < (b.address, b.interface ?? "") }
}

/// What one handled Service became, for status and explain.
public struct ServicePlan: Sendable, Hashable {
    public var ref: ObjectRef
    public var pool: String?
    public var addresses: [IPAddress]
    /// The node elected to announce; nil when no node can (no ready endpoint for Local, no eligible node).
    public var announcingNode: String?
    public var trafficPolicy: TrafficPolicy
    public var endpointsReady: Int
    public var endpointsTotal: Int
    /// The virtual services built for it (one per address and port).
    public var virtualServices: [VirtualServiceKey]
    /// The planner's account of its decisions, in sentences ("Announced by node2: the only node with a ready endpoint.").
    public var reasons: [String]

    public init(ref: ObjectRef, pool: String?, addresses: [IPAddress], announcingNode: String?,
                trafficPolicy: TrafficPolicy, endpointsReady: Int, endpointsTotal: Int,
                virtualServices: [VirtualServiceKey], reasons: [String] = []) {
        self.ref = ref
        self.pool = pool
        self.addresses = addresses
        self.announcingNode = announcingNode
        self.trafficPolicy = trafficPolicy
        self.endpointsReady = endpointsReady
        self.endpointsTotal = endpointsTotal
        self.virtualServices = virtualServices
        self.reasons = reasons
    }
}

/// The desired data plane of this node.
public struct SyncPlan: Sendable, Hashable {
    public var ipvs: [IPVSVirtualService]
    /// Addresses held on the dummy link (so IPVS sees packets to them).
    public var vips: Set<IPAddress>
    public var snat: [SNATRule]
    /// Addresses this node answers ARP/NDP for.
    public var announcements: [Announcement]
    public var services: [ObjectRef: ServicePlan]

    public init(ipvs: [IPVSVirtualService] = [], vips: Set<IPAddress> = [], snat: [SNATRule] = [],
                announcements: [Announcement] = [], services: [ObjectRef: ServicePlan] = [:]) {
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
        self.announcements = announcements
        self.services = services
    }
}

/// What an IPVS reconcile did.
public struct IPVSReconcileReport: Sendable, Hashable {
    public var performed: [IPVSOperationKind: Int]
    /// Failed operations, with the virtual service each concerned.
    public var errors: [IPVSFailure]
    /// The table after the reconcile (or as read, if nothing was changed), for status.
    public var observed: [ObservedVirtualService]

    public init(performed: [IPVSOperationKind: Int] = [:], errors: [IPVSFailure] = [], observed: [ObservedVirtualService] = []) {
        self.performed = performed
        self.errors = errors
        self.observed = observed
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

/// Allocates addresses: a pure function of the snapshot, the configuration
/// and the previous assignments (which it should keep whenever still valid).
public typealias AllocateStage = @Sendable (_ snapshot: ClusterSnapshot, _ configuration: Configuration,
                                            _ previous: AssignmentTable) -> AllocationOutcome

/// Plans this node's data plane: a pure function.
public typealias PlanStage = @Sendable (_ snapshot: ClusterSnapshot, _ allocation: AllocationOutcome,
                                        _ configuration: Configuration, _ nodeName: String) -> SyncPlan

/// Makes the kernel's IPVS table match `desired` for the virtual services
/// `owns` accepts; never touches the others (another tool's, kube-proxy's).
public protocol IPVSReconciling: Sendable {
    func reconcile(desired: [IPVSVirtualService], owns: @escaping @Sendable (VirtualServiceKey) -> Bool) -> IPVSReconcileReport
}

/// Answers ARP/NDP for a set of addresses.
public protocol Announcing: Sendable {
    /// Makes `announcements` the complete set: starts the new ones (with a
    /// gratuitous burst), stops the ones no longer listed.
    func announce(_ announcements: [Announcement]) async
    /// Stops answering for everything, so that a peer's election takes over.
    func stopAll() async
}

/// The kernel-facing stages of a sync.
public struct SyncStages: Sendable {
    public var allocate: AllocateStage
    public var plan: PlanStage
    public var ipvs: any IPVSReconciling
    public var vips: any VIPControl
    public var snat: any SNATControl
    public var announcer: any Announcing

    public init(allocate: @escaping AllocateStage, plan: @escaping PlanStage, ipvs: any IPVSReconciling,
                vips: any VIPControl, snat: any SNATControl, announcer: any Announcing) {
        self.allocate = allocate
        self.plan = plan
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
        self.announcer = announcer
    }
}
