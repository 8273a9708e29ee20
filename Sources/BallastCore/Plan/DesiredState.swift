// What one node should have: the planner's output. The reconciler diffs it
// against the kernel, the announcer acts on `localAnnouncements`, and
// ballastctl / `ballastd --dry-run` print it.

/// The one node that answers ARP/NDP for an address.
public struct Announcement: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var node: String
    public var pool: String
    /// Interfaces to announce on (from the pool); nil = the interface whose subnet holds the address.
    public var interfaces: [String]?
    /// Services using the address (several when it is shared).
    public var services: [ObjectRef]
    /// Answer requests only: no gratuitous ARP or unsolicited NA, no refresh.
    /// The daemon sets it for an address no node announces that it keeps
    /// while connections drain through it: those clients re-resolve it when
    /// their neighbour cache entry expires, and nothing is taken over. The
    /// planner never sets it.
    public var answerOnly: Bool

    public init(address: IPAddress, node: String, pool: String, interfaces: [String]?, services: [ObjectRef],
                answerOnly: Bool = false) {
        self.address = address
        self.node = node
        self.pool = pool
        self.interfaces = interfaces
        self.services = services
        self.answerOnly = answerOnly
    }

    public var description: String {
        "\(address) by \(node) on \(interfaces.map { $0.joined(separator: ", ") } ?? "automatic interface")"
            + (pool.isEmpty ? "" : " (pool \(pool))") + (answerOnly ? ", answering only while connections drain" : "")
    }

    public static func < (a: Self, b: Self) -> Bool { a.address < b.address }
}

/// Endpoints of a Service as its EndpointSlices list them (pods in both
/// families count once when the slices name them with a targetRef).
public struct EndpointCounts: Sendable, Hashable, CustomStringConvertible {
    public var ready: Int
    /// Terminating but still serving: kept at weight 0 so open connections drain.
    public var draining: Int
    public var total: Int

    public init(ready: Int = 0, draining: Int = 0, total: Int = 0) {
        self.ready = ready
        self.draining = draining
        self.total = total
    }

    public var description: String {
        "\(ready) ready" + (draining > 0 ? ", \(draining) draining" : "") + " of \(total)"
    }
}

/// The announcing node of each of a Service's addresses that is announced: a
/// map of one or two entries, kept as a sorted array because a plan per
/// Service stays in memory (a dictionary per Service was 1.45 MiB at 10,000
/// Services, this is a third of that).
public struct Announcers: Sendable, Hashable, ExpressibleByDictionaryLiteral {
    private struct Entry: Sendable, Hashable {
        var address: IPAddress
        var node: String
    }

    /// Sorted by address, one entry per address: equal maps are equal arrays.
    private var entries: [Entry] = []

    public init(dictionaryLiteral elements: (IPAddress, String)...) {
        for (address, node) in elements { self[address] = node }
    }

    public subscript(address: IPAddress) -> String? {
        get { entries.first { $0.address == address }?.node }
        set {
            let index = entries.firstIndex { !($0.address < address) } ?? entries.endIndex
            let present = index < entries.endIndex && entries[index].address == address
            switch (newValue, present) {
            case (let node?, true): entries[index].node = node
            case (let node?, false): entries.insert(Entry(address: address, node: node), at: index)
            case (nil, true): entries.remove(at: index)
            case (nil, false): break
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    /// The announcing nodes, in address order (a node announcing two addresses appears twice).
    public var nodes: [String] { entries.map(\.node) }
}

/// Everything the planner decided about one LoadBalancer Service (feeds `ballastctl explain`).
public struct ServicePlan: Sendable, Hashable {
    public var ref: ObjectRef
    /// Empty when allocation failed or Ballast ignores the Service.
    public var addresses: [IPAddress]
    public var pool: String?
    /// The announcing node of each address that is announced.
    public var announcers: Announcers
    public var externalTrafficPolicy: TrafficPolicy
    public var endpoints: EndpointCounts
    /// This node's virtual services for the Service, sorted.
    public var virtualServices: [VirtualServiceKey]
    /// Destinations this node programs across those virtual services: serving, and draining at weight 0.
    public var destinations: Int
    public var drainingDestinations: Int
    /// Why the Service lacks an address, an announcement or destinations here; empty when all is well.
    public var reasons: [String]
    /// Addresses the Service held before and lost in this allocation, with why.
    public var withdrawn: [Withdrawal]

    public init(ref: ObjectRef, addresses: [IPAddress] = [], pool: String? = nil, announcers: Announcers = [:],
                externalTrafficPolicy: TrafficPolicy = .cluster, endpoints: EndpointCounts = EndpointCounts(),
                virtualServices: [VirtualServiceKey] = [], destinations: Int = 0, drainingDestinations: Int = 0,
                reasons: [String] = [], withdrawn: [Withdrawal] = []) {
        self.ref = ref
        self.addresses = addresses
        self.pool = pool
        self.announcers = announcers
        self.externalTrafficPolicy = externalTrafficPolicy
        self.endpoints = endpoints
        self.virtualServices = virtualServices
        self.destinations = destinations
        self.drainingDestinations = drainingDestinations
        self.reasons = reasons
        self.withdrawn = withdrawn
    }
}

public struct DesiredState: Sendable, Hashable {
    /// The node this state is for.
    public var node: String
    /// One virtual service per LoadBalancer address × port × protocol, sorted by key,
    /// destinations sorted. Every node programs all of them (see Planner).
    public var ipvs: [IPVSVirtualService]
    /// Addresses to hold on the VIP link: those this node announces. Sorted.
    public var vips: [IPAddress]
    /// Source NAT for Cluster traffic policy towards endpoints on other nodes. Sorted.
    public var snat: [SNATRule]
    /// Every announced address with its announcer, whichever node that is. Sorted by address.
    public var announcements: [Announcement]
    public var services: [ObjectRef: ServicePlan]
    public var pools: [PoolUsage]

    public init(node: String, ipvs: [IPVSVirtualService] = [], vips: [IPAddress] = [], snat: [SNATRule] = [],
                announcements: [Announcement] = [], services: [ObjectRef: ServicePlan] = [:], pools: [PoolUsage] = []) {
        self.node = node
        self.ipvs = ipvs
        self.vips = vips
        self.snat = snat
        self.announcements = announcements
        self.services = services
        self.pools = pools
    }

    /// The announcements this node makes.
    public var localAnnouncements: [Announcement] { announcements.filter { $0.node == node } }
}
