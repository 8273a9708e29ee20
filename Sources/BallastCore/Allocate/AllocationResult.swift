// What allocation produces: addresses per Service, a readable reason for every
// Service left without one, and how full each pool is. Failures are values so
// that `ballastctl explain` can show them and tests can assert on them.

/// The addresses given to one Service, all from one pool (as MetalLB requires).
public struct Assignment: Sendable, Hashable, CustomStringConvertible {
    public var pool: String
    /// One address per family, in the Service's family preference order (primary first).
    public var addresses: [IPAddress]

    public init(pool: String, addresses: [IPAddress]) {
        self.pool = pool
        self.addresses = addresses
    }

    public var description: String {
        "\(addresses.map(\.description).joined(separator: ", ")) (pool \(pool))"
    }
}

/// A protocol and port of a Service, the unit that may not collide on a shared address.
public struct ServicePortKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var `protocol`: IPVSProtocol
    public var port: UInt16

    public init(protocol: IPVSProtocol, port: UInt16) {
        self.protocol = `protocol`
        self.port = port
    }

    public var description: String { "\(`protocol`.upperName)/\(port)" }

    public static func < (a: Self, b: Self) -> Bool { (a.protocol.number, a.port) < (b.protocol.number, b.port) }
}

/// Why a Service may not use an address another Service already holds.
/// MetalLB's rule: both set the same allow-shared-ip key, their ports do not
/// collide, and both use Cluster traffic policy or select the same pods.
public enum SharingConflict: Sendable, Hashable, CustomStringConvertible {
    /// The holder sets no allow-shared-ip key.
    case holderDoesNotShare
    /// This Service sets no allow-shared-ip key.
    case requesterDoesNotShare
    case keysDiffer(holder: String, requester: String)
    /// Local traffic policy must reach the same pods: the announcer has to hold
    /// local endpoints of every Service on the address.
    case backendsDiffer
    case portInUse(ServicePortKey)

    public var description: String {
        switch self {
        case .holderDoesNotShare: "it sets no allow-shared-ip key"
        case .requesterDoesNotShare: "this Service sets no allow-shared-ip key"
        case let .keysDiffer(holder, requester): "allow-shared-ip keys differ: \"\(holder)\" vs \"\(requester)\""
        case .backendsDiffer:
            "sharing needs both Services to use externalTrafficPolicy Cluster or to have identical selectors"
        case .portInUse(let p): "port \(p) is used by both"
        }
    }
}

/// Why a pool could not give a Service an address of one family.
public struct PoolShortage: Sendable, Hashable, CustomStringConvertible {
    public var pool: String
    public var family: AddressFamily
    /// false: the pool has no range of this family at all.
    public var hasFamily: Bool
    /// Whether the pool holds ranges of this family only (for the wording).
    public var onlyFamily: Bool
    public var inUse: UInt64
    public var size: UInt64

    public init(pool: String, family: AddressFamily, hasFamily: Bool, onlyFamily: Bool, inUse: UInt64, size: UInt64) {
        self.pool = pool
        self.family = family
        self.hasFamily = hasFamily
        self.onlyFamily = onlyFamily
        self.inUse = inUse
        self.size = size
    }

    public var description: String {
        if !hasFamily { return "pool \"\(pool)\" has no \(family.displayName) range" }
        let counts = "(\(inUse) of \(size.countDescription) in use)"
        return onlyFamily ? "pool \"\(pool)\" is exhausted \(counts)"
            : "pool \"\(pool)\" has no free \(family.displayName) address \(counts)"
    }
}

/// Why a Service got no address. Each case reads as a sentence for users.
public enum AllocationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// spec.loadBalancerIP and a loadBalancerIPs annotation are both set (MetalLB refuses this too).
    case conflictingRequests(annotation: String)
    case invalidRequestedAddress(source: String, text: String)
    case twoAddressesOfOneFamily(source: String, AddressFamily)
    case requestedFamilyNotAllowed(IPAddress, families: String)
    case tooFewRequestedAddresses(source: String, families: String)
    case tooManyRequestedAddresses(source: String, families: String)
    case notInAnyPool(IPAddress)
    case excludedByAvoidBuggyIPs(IPAddress, pool: String)
    case requestedAddressesInDifferentPools([IPAddress], pools: [String])
    case requestedAddressNotInRequestedPool(IPAddress, pool: String, requestedPool: String)
    case unknownPool(String)
    case poolDoesNotSelectService(pool: String, why: String)
    case addressInUse(IPAddress, by: ObjectRef, SharingConflict)
    case noPoolsConfigured
    /// No pool may assign to this Service automatically; `details` say why per pool.
    case noEligiblePool(details: [String])
    case noFreeAddress([PoolShortage])

    public var description: String {
        switch self {
        case .conflictingRequests(let annotation):
            return "spec.loadBalancerIP and annotation \(annotation) are both set; use only one"
        case let .invalidRequestedAddress(source, text):
            return "\(source) \"\(text)\" is not an IP address"
        case let .twoAddressesOfOneFamily(source, family):
            return "\(source) lists two \(family.displayName) addresses; at most one per family is allowed"
        case let .requestedFamilyNotAllowed(address, families):
            return "requested address \(address) is \(address.family.displayName) but the Service is \(families)"
        case let .tooFewRequestedAddresses(source, families):
            return "\(source) must list one address per family: the Service is \(families)"
        case let .tooManyRequestedAddresses(source, families):
            return "\(source) lists more addresses than the Service takes: it is \(families)"
        case .notInAnyPool(let address):
            return "requested address \(address) is not in any address pool"
        case let .excludedByAvoidBuggyIPs(address, pool):
            return "requested address \(address) is in pool \"\(pool)\", which avoids addresses ending in .0 and .255 (avoidBuggyIPs)"
        case let .requestedAddressesInDifferentPools(addresses, pools):
            let pairs = zip(addresses, pools).map { "\($0) in pool \"\($1)\"" }.joined(separator: ", ")
            return "requested addresses must come from one pool: \(pairs)"
        case let .requestedAddressNotInRequestedPool(address, pool, requestedPool):
            return "requested address \(address) is in pool \"\(pool)\", not in the requested pool \"\(requestedPool)\""
        case .unknownPool(let name):
            return "requested pool \"\(name)\" does not exist"
        case let .poolDoesNotSelectService(pool, why):
            return "pool \"\(pool)\" does not serve this Service: \(why)"
        case let .addressInUse(address, holder, conflict):
            return "address \(address) is already used by \(holder) (\(conflict))"
        case .noPoolsConfigured:
            return "no address pools are configured"
        case .noEligiblePool(let details):
            return "no pool assigns addresses to this Service automatically"
                + (details.isEmpty ? "" : " (\(details.joined(separator: "; ")))")
        case .noFreeAddress(let shortages):
            return "no free address: " + shortages.map(\.description).joined(separator: "; ")
        }
    }
}

/// A previously held address that the Service lost, and why (shown by `ballastctl explain`).
public struct Withdrawal: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var reason: String

    public init(address: IPAddress, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "\(address) withdrawn: \(reason)" }
}

/// Size and use of one family of one pool (for metrics and `ballastctl pools`).
public struct PoolUsage: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var pool: String
    public var family: AddressFamily
    /// Usable addresses (avoidBuggyIPs excluded), saturating at UInt64.max.
    public var size: UInt64
    /// Distinct addresses assigned (a shared address counts once).
    public var inUse: UInt64

    public init(pool: String, family: AddressFamily, size: UInt64, inUse: UInt64) {
        self.pool = pool
        self.family = family
        self.size = size
        self.inUse = inUse
    }

    public var description: String { "\(pool) \(family.displayName): \(inUse) of \(size.countDescription) in use" }

    public static func < (a: Self, b: Self) -> Bool { (a.pool, a.family) < (b.pool, b.family) }
}

public struct AllocationResult: Sendable, Hashable {
    public var assignments: [ObjectRef: Assignment]
    /// LoadBalancer Services Ballast handles that got no address.
    public var failures: [ObjectRef: AllocationFailure]
    /// LoadBalancer Services left to another implementation (loadBalancerClass), with why.
    public var ignored: [ObjectRef: String]
    /// Previous addresses that Services lost in this run.
    public var withdrawals: [ObjectRef: [Withdrawal]]
    /// Every family of every pool, sorted by pool name then family.
    public var usage: [PoolUsage]

    public init(assignments: [ObjectRef: Assignment] = [:], failures: [ObjectRef: AllocationFailure] = [:],
                ignored: [ObjectRef: String] = [:], withdrawals: [ObjectRef: [Withdrawal]] = [:],
                usage: [PoolUsage] = []) {
        self.assignments = assignments
        self.failures = failures
        self.ignored = ignored
        self.withdrawals = withdrawals
        self.usage = usage
    }

    /// What the daemon persists and passes back as `previous` on the next run.
    public var addresses: [ObjectRef: [IPAddress]] { assignments.mapValues(\.addresses) }
}

extension AddressFamily {
    /// "IPv4" / "IPv6", as users write them.
    public var displayName: String { self == .ipv4 ? "IPv4" : "IPv6" }

    public var other: AddressFamily { self == .ipv4 ? .ipv6 : .ipv4 }
}

extension UInt64 {
    /// Pool sizes of huge IPv6 ranges saturate; say so instead of printing 2^64-1.
    var countDescription: String { self == .max ? "2^64 or more" : "\(self)" }
}

extension AllocationResult {
    /// Services whose outcome differs between `other` and this result:
    /// addresses or pool, failure, ignore reason or withdrawals.
    public func servicesDiffering(from other: AllocationResult) -> Set<ObjectRef> {
        var differing: Set<ObjectRef> = []
        func compare<Value: Equatable>(_ mine: [ObjectRef: Value], _ theirs: [ObjectRef: Value]) {
            for (ref, value) in mine where theirs[ref] != value { differing.insert(ref) }
            for ref in theirs.keys where mine[ref] == nil { differing.insert(ref) }
        }
        compare(assignments, other.assignments)
        compare(failures, other.failures)
        compare(ignored, other.ignored)
        compare(withdrawals, other.withdrawals)
        return differing
    }
}
