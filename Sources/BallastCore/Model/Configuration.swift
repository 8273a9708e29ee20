// Ballast's configuration as values (decoded and validated by BallastConfig).

/// An inclusive range of addresses of one family: from a CIDR or "first-last".
public struct AddressRange: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let first: IPAddress
    public let last: IPAddress

    /// nil when families differ or last precedes first (the decoder reports why).
    public init?(first: IPAddress, last: IPAddress) {
        guard first.family == last.family, first <= last else { return nil }
        self.first = first
        self.last = last
    }

    public init(_ cidr: CIDR) {
        first = cidr.network
        last = cidr.last
    }

    public var family: AddressFamily { first.family }

    public func contains(_ a: IPAddress) -> Bool { a.family == family && first <= a && a <= last }

    public func overlaps(_ other: AddressRange) -> Bool {
        other.family == family && first <= other.last && other.first <= last
    }

    /// Number of addresses, saturating at UInt64.max.
    public var size: UInt64 {
        switch (first, last) {
        case let (.v4(a), .v4(b)): return UInt64(b.value - a.value) + 1
        case let (.v6(a), .v6(b)):
            // 128-bit difference b - a; anything at or beyond 2^64 saturates.
            let (lo, borrow) = b.low.subtractingReportingOverflow(a.low)
            let hi = b.high - a.high - (borrow ? 1 : 0)
            return hi > 0 || lo == .max ? .max : lo + 1
        default: return 0
        }
    }

    public var description: String {
        if let c = asCIDR { return c.description }
        return "\(first)-\(last)"
    }

    /// The CIDR this range is exactly, if any.
    public var asCIDR: CIDR? {
        for plen in 0...first.family.bitWidth {
            let c = CIDR(network: first, prefixLength: plen)
            if c.network == first && c.last == last { return c }
        }
        return nil
    }

    public static func < (a: Self, b: Self) -> Bool { (a.first, a.last) < (b.first, b.last) }
}

/// MetalLB's IPAddressPool.spec.serviceAllocation.
public struct ServiceAllocation: Sendable, Hashable {
    /// Lower number = higher priority; nil = lowest (after every numbered pool), as in MetalLB.
    public var priority: Int?
    public var namespaces: [String]
    public var namespaceSelectors: [LabelSelector]
    public var serviceSelectors: [LabelSelector]

    public init(priority: Int? = nil, namespaces: [String] = [], namespaceSelectors: [LabelSelector] = [],
                serviceSelectors: [LabelSelector] = []) {
        self.priority = priority
        self.namespaces = namespaces
        self.namespaceSelectors = namespaceSelectors
        self.serviceSelectors = serviceSelectors
    }
}

public struct AddressPool: Sendable, Hashable {
    public var name: String
    public var ranges: [AddressRange]
    /// false: only Services that name this pool (annotation) or request one of its addresses get an address.
    public var autoAssign: Bool
    /// Skip addresses ending in .0 and .255 (broken by some client stacks), as MetalLB's avoidBuggyIPs.
    public var avoidBuggyIPs: Bool
    public var serviceAllocation: ServiceAllocation?
    /// Interfaces to announce this pool's addresses on; nil = the interface whose subnet holds the address.
    public var interfaces: [String]?
    /// Restrict announcing nodes (MetalLB L2Advertisement nodeSelectors); empty = all nodes.
    public var nodeSelectors: [LabelSelector]
    public var location: SourceLocation?

    public init(name: String, ranges: [AddressRange], autoAssign: Bool = true, avoidBuggyIPs: Bool = false,
                serviceAllocation: ServiceAllocation? = nil, interfaces: [String]? = nil,
                nodeSelectors: [LabelSelector] = [], location: SourceLocation? = nil) {
        self.name = name
        self.ranges = ranges
        self.autoAssign = autoAssign
        self.avoidBuggyIPs = avoidBuggyIPs
        self.serviceAllocation = serviceAllocation
        self.interfaces = interfaces
        self.nodeSelectors = nodeSelectors
        self.location = location
    }

    public func contains(_ a: IPAddress) -> Bool { ranges.contains { $0.contains(a) } }

    /// Whether `a` is usable in this pool (in range and not skipped by avoidBuggyIPs).
    public func allows(_ a: IPAddress) -> Bool {
        guard contains(a) else { return false }
        if avoidBuggyIPs, case .v4(let v4) = a {
            let lastOctet = v4.value & 0xff
            return lastOctet != 0 && lastOctet != 255
        }
        return true
    }
}

/// Gratuitous ARP / unsolicited NA behaviour.
public struct AnnounceSettings: Sendable, Hashable {
    /// Frames sent on takeover (MetalLB/keepalived send a handful).
    public var burstCount: Int = 5
    public var burstInterval: Duration = .seconds(1)
    /// Periodic re-announcement to keep switch tables warm; nil = off.
    public var refreshInterval: Duration? = nil

    public init(burstCount: Int = 5, burstInterval: Duration = .seconds(1), refreshInterval: Duration? = nil) {
        self.burstCount = burstCount
        self.burstInterval = burstInterval
        self.refreshInterval = refreshInterval
    }
}

public struct IPVSSettings: Sendable, Hashable {
    public var scheduler: IPVSScheduler = .rr
    /// How long a removed destination with open connections keeps weight 0 before deletion.
    public var drainTimeout: Duration = .seconds(60)
    /// Periodic full resync that repairs drift.
    public var resyncInterval: Duration = .seconds(30)

    public init(scheduler: IPVSScheduler = .rr, drainTimeout: Duration = .seconds(60),
                resyncInterval: Duration = .seconds(30)) {
        self.scheduler = scheduler
        self.drainTimeout = drainTimeout
        self.resyncInterval = resyncInterval
    }
}

public enum ServiceSource: Sendable, Hashable {
    /// A directory of Kubernetes manifests (YAML/JSON), watched for changes.
    case files(directory: String)
    /// The Kubernetes API, reached with a kubeconfig (nil = in-cluster service account).
    case kubernetes(kubeconfig: String?)
}

public struct Configuration: Sendable, Hashable {
    public var pools: [AddressPool]
    public var announce: AnnounceSettings
    public var ipvs: IPVSSettings
    public var source: ServiceSource
    /// This node's name; nil = the host name.
    public var nodeName: String?
    public var stateDirectory: String
    public var statusSocket: String
    /// host:port for Prometheus metrics; nil = disabled.
    public var metricsAddress: String?
    /// Services whose spec.loadBalancerClass is set to anything else are left alone.
    public var loadBalancerClass: String
    /// Whether Services with no loadBalancerClass are handled.
    public var handleUnclassedServices: Bool
    /// The dummy link that holds the VIPs.
    public var vipInterface: String

    public static let defaultLoadBalancerClass = "ballast.io/lb"

    public init(pools: [AddressPool] = [], announce: AnnounceSettings = AnnounceSettings(),
                ipvs: IPVSSettings = IPVSSettings(), source: ServiceSource = .files(directory: "/etc/ballast/services"),
                nodeName: String? = nil, stateDirectory: String = "/var/lib/ballast",
                statusSocket: String = "/run/ballast/ballastd.sock", metricsAddress: String? = "127.0.0.1:9734",
                loadBalancerClass: String = Configuration.defaultLoadBalancerClass, handleUnclassedServices: Bool = true,
                vipInterface: String = "ballast0") {
        self.pools = pools
        self.announce = announce
        self.ipvs = ipvs
        self.source = source
        self.nodeName = nodeName
        self.stateDirectory = stateDirectory
        self.statusSocket = statusSocket
        self.metricsAddress = metricsAddress
        self.loadBalancerClass = loadBalancerClass
        self.handleUnclassedServices = handleUnclassedServices
        self.vipInterface = vipInterface
    }
}
