// The IPVS table as values. Shared by the planner (which builds the desired
// table), the reconciler (which diffs it against the kernel's), and the
// netlink layer (which encodes and decodes it). Numeric values mirror
// <linux/ip_vs.h>; the netlink layer is the only place that maps them to bytes.

/// Transport protocol of a virtual service, with its IP protocol number.
public enum IPVSProtocol: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case tcp, udp, sctp

    public var number: UInt16 {
        switch self {
        case .tcp: 6
        case .udp: 17
        case .sctp: 132
        }
    }

    public init?(number: UInt16) {
        guard let p = Self.allCases.first(where: { $0.number == number }) else { return nil }
        self = p
    }

    public var upperName: String { rawValue.uppercased() }

    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
}

/// IPVS schedulers shipped by Linux (the ip_vs_<name> modules).
public enum IPVSScheduler: String, Sendable, Hashable, CaseIterable, Codable {
    case rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh
}

/// IP_VS_SVC_F_* bits of a virtual service that a user sets. PERSISTENT and
/// HASHED are owned by the kernel / derived from `persistence`, so they are not here.
public struct IPVSServiceFlags: OptionSet, Sendable, Hashable, Codable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// IP_VS_SVC_F_ONEPACKET: schedule each UDP datagram independently.
    public static let onePacket = IPVSServiceFlags(rawValue: 0x0004)
    /// IP_VS_SVC_F_SCHED1: sh-fallback / mh-fallback (same bit, scheduler-specific meaning).
    public static let schedFlag1 = IPVSServiceFlags(rawValue: 0x0008)
    /// IP_VS_SVC_F_SCHED2: sh-port / mh-port.
    public static let schedFlag2 = IPVSServiceFlags(rawValue: 0x0010)
    /// IP_VS_SVC_F_SCHED3: unused by current schedulers, kept for round-tripping.
    public static let schedFlag3 = IPVSServiceFlags(rawValue: 0x0020)

    public static let shFallback = schedFlag1
    public static let shPort = schedFlag2
    public static let mhFallback = schedFlag1
    public static let mhPort = schedFlag2

    /// Kernel-owned bits we never write and ignore when comparing.
    public static let kernelOwnedMask: UInt32 = 0x0001 | 0x0002
}

/// How a virtual service is identified: address+port+protocol, or firewall mark.
public enum VirtualServiceKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    case address(IPAddress, port: UInt16, protocol: IPVSProtocol)
    case firewallMark(UInt32, family: AddressFamily)

    public var family: AddressFamily {
        switch self {
        case .address(let a, _, _): a.family
        case .firewallMark(_, let f): f
        }
    }

    /// "TCP 192.0.2.10:80" or "FWM 7 (IPv6)" — the form used in errors and logs.
    public var description: String {
        switch self {
        case let .address(a, port, proto): "\(proto.upperName) \(a.withPort(port))"
        case let .firewallMark(m, f): f == .ipv4 ? "FWM \(m)" : "FWM \(m) (IPv6)"
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.address(x, xp, xr), .address(y, yp, yr)): (x, xp, xr.number) < (y, yp, yr.number)
        case let (.firewallMark(x, xf), .firewallMark(y, yf)): (xf == .ipv6 ? 1 : 0, x) < (yf == .ipv6 ? 1 : 0, y)
        case (.address, .firewallMark): true
        case (.firewallMark, .address): false
        }
    }
}

/// Client persistence (ipvsadm -p / -M): connections from one client (masked by
/// `netmask`) stick to one destination for `timeout` seconds.
public struct IPVSPersistence: Sendable, Hashable, Codable {
    public var timeout: UInt32
    /// Prefix length that groups clients: 32 (IPv4) / 128 (IPv6) is per address.
    public var netmaskPrefix: Int

    public init(timeout: UInt32, netmaskPrefix: Int) {
        self.timeout = timeout
        self.netmaskPrefix = netmaskPrefix
    }
}

/// Forwarding method of a destination (IP_VS_CONN_F_FWD_MASK values).
public enum IPVSForwarding: String, Sendable, Hashable, CaseIterable, Codable {
    case masquerade = "masq"
    case directRoute = "route"
    case tunnel = "tunnel"

    public var kernelValue: UInt32 {
        switch self {
        case .masquerade: 0
        case .tunnel: 2
        case .directRoute: 3
        }
    }

    public init?(kernelValue: UInt32) {
        switch kernelValue & 0x7 {
        case 0: self = .masquerade
        case 2: self = .tunnel
        case 3: self = .directRoute
        default: return nil
        }
    }
}

/// A real server behind a virtual service: the configurable part.
public struct IPVSDestination: Sendable, Hashable, Comparable {
    // Stored in this order so that the one-byte forwarding fills the gap after
    // the 17-byte address: 32 bytes instead of 40, for each of the 100,000
    // destinations the plan and the remembered kernel table hold (issue 5).
    public var address: IPAddress
    public var forwarding: IPVSForwarding
    public var port: UInt16
    public var weight: Int32
    /// 0 means no limit (ipvsadm -x / -y).
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32

    public init(address: IPAddress, port: UInt16, forwarding: IPVSForwarding = .masquerade,
                weight: Int32 = 1, upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0) {
        self.address = address
        self.port = port
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
    }

    /// Destinations are identified within a service by address and port.
    public var endpoint: IPVSEndpoint { IPVSEndpoint(address: address, port: port) }

    public static func < (a: Self, b: Self) -> Bool { a.endpoint < b.endpoint }
}

public struct IPVSEndpoint: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(address: IPAddress, port: UInt16) { self.address = address; self.port = port }
    public var description: String { address.withPort(port) }
    public static func < (a: Self, b: Self) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

/// A virtual service with its destinations: the configurable part.
public struct IPVSVirtualService: Sendable, Hashable {
    public var key: VirtualServiceKey
    public var scheduler: IPVSScheduler
    public var flags: IPVSServiceFlags
    public var persistence: IPVSPersistence?
    public var destinations: [IPVSDestination]

    public init(key: VirtualServiceKey, scheduler: IPVSScheduler = .rr, flags: IPVSServiceFlags = [],
                persistence: IPVSPersistence? = nil, destinations: [IPVSDestination] = []) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.persistence = persistence
        self.destinations = destinations
    }
}

/// Counters the kernel keeps per service and per destination (IPVS_STATS_ATTR_*,
/// the 64-bit variants).
public struct IPVSStats: Sendable, Hashable, Codable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public var cps: UInt64 = 0
    public var inPPS: UInt64 = 0
    public var outPPS: UInt64 = 0
    public var inBPS: UInt64 = 0
    public var outBPS: UInt64 = 0
    public init() {}
}

/// Traffic counters out of line, and none at all when they are zero: 80
/// bytes inline would more than double each observed destination, and the
/// daemon remembers the whole table (100,000 destinations at 10,000
/// Services) without reading the counters (issue 5, memory). Immutable, so a
/// copy of an observed value never sees another's change.
final class IPVSStatsBox: Sendable, Hashable {
    let stats: IPVSStats

    private init(stats: IPVSStats) { self.stats = stats }

    /// nil for all-zero counters.
    static func make(_ stats: IPVSStats) -> IPVSStatsBox? { stats == IPVSStats() ? nil : IPVSStatsBox(stats: stats) }

    static func == (a: IPVSStatsBox, b: IPVSStatsBox) -> Bool { a.stats == b.stats }
    func hash(into hasher: inout Hasher) { hasher.combine(stats) }
}

/// A destination as the kernel reports it: configuration plus live counts.
public struct ObservedDestination: Sendable, Hashable {
    public var destination: IPVSDestination
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    public var persistentConnections: UInt32
    /// Traffic counters; all zero where they were not read or not kept.
    public var stats: IPVSStats {
        get { counters?.stats ?? IPVSStats() }
        set { counters = IPVSStatsBox.make(newValue) }
    }
    private var counters: IPVSStatsBox?

    public init(destination: IPVSDestination, activeConnections: UInt32 = 0, inactiveConnections: UInt32 = 0,
                persistentConnections: UInt32 = 0, stats: IPVSStats = IPVSStats()) {
        self.destination = destination
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        counters = IPVSStatsBox.make(stats)
    }

    /// Connections that a graceful removal waits for.
    public var connectionCount: UInt32 { activeConnections &+ inactiveConnections &+ persistentConnections }
}

/// A virtual service as the kernel reports it: settings, destinations with
/// their live counts, and the service's own counters.
public struct ObservedVirtualService: Sendable, Hashable {
    public var key: VirtualServiceKey
    public var scheduler: IPVSScheduler
    public var flags: IPVSServiceFlags
    public var persistence: IPVSPersistence?
    public var destinations: [ObservedDestination]
    /// Traffic counters; all zero where they were not read or not kept.
    public var stats: IPVSStats {
        get { counters?.stats ?? IPVSStats() }
        set { counters = IPVSStatsBox.make(newValue) }
    }
    private var counters: IPVSStatsBox?

    public init(key: VirtualServiceKey, scheduler: IPVSScheduler, flags: IPVSServiceFlags = [],
                persistence: IPVSPersistence? = nil, destinations: [ObservedDestination] = [],
                stats: IPVSStats = IPVSStats()) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.persistence = persistence
        self.destinations = destinations
        counters = IPVSStatsBox.make(stats)
    }

    /// The configurable part, comparable with a desired service.
    public var service: IPVSVirtualService {
        IPVSVirtualService(key: key, scheduler: scheduler, flags: flags, persistence: persistence,
                           destinations: destinations.map(\.destination))
    }
}
