// The status API's messages. One JSON request line in, one JSON response
// line out, over the Unix socket in the runtime directory. Field names are
// part of ballastctl's `--output json` and so a stable interface: add fields,
// do not rename them.
import BallastCore
import FoundationEssentials

/// What a client asks. Wire form: {"request":"status"} or
/// {"request":"explain","service":"default/web"}.
public enum StatusRequest: Sendable, Hashable, Codable, CustomStringConvertible {
    case status
    case services
    case pools
    case explain(ObjectRef)
    case ipvs

    private enum CodingKeys: String, CodingKey { case request, service }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .request)
        switch kind {
        case "status": self = .status
        case "services": self = .services
        case "pools": self = .pools
        case "ipvs": self = .ipvs
        case "explain":
            let text = try c.decode(String.self, forKey: .service)
            guard let ref = ObjectRef(parsing: text) else {
                throw DecodingError.dataCorruptedError(forKey: .service, in: c,
                                                       debugDescription: "\"\(text)\" is not NAMESPACE/NAME")
            }
            self = .explain(ref)
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .request, in: c,
                debugDescription: "unknown request \"\(kind)\" (known: status, services, pools, explain, ipvs)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .status: try c.encode("status", forKey: .request)
        case .services: try c.encode("services", forKey: .request)
        case .pools: try c.encode("pools", forKey: .request)
        case .ipvs: try c.encode("ipvs", forKey: .request)
        case .explain(let ref):
            try c.encode("explain", forKey: .request)
            try c.encode(ref.description, forKey: .service)
        }
    }

    public var description: String {
        switch self {
        case .status: "status"
        case .services: "services"
        case .pools: "pools"
        case .ipvs: "ipvs"
        case .explain(let ref): "explain \(ref)"
        }
    }
}

/// The answer: exactly one of the payloads, or `error`.
public struct StatusReply: Sendable, Hashable, Codable {
    public var error: String?
    public var status: StatusResponse?
    public var services: ServicesResponse?
    public var pools: PoolsResponse?
    public var explain: ExplainResponse?
    public var ipvs: IPVSResponse?

    public init(error: String? = nil, status: StatusResponse? = nil, services: ServicesResponse? = nil,
                pools: PoolsResponse? = nil, explain: ExplainResponse? = nil, ipvs: IPVSResponse? = nil) {
        self.error = error
        self.status = status
        self.services = services
        self.pools = pools
        self.explain = explain
        self.ipvs = ipvs
    }

    public static func failure(_ message: String) -> StatusReply { StatusReply(error: message) }
}

public enum Health: String, Sendable, Hashable, Codable {
    /// Configuration current, last sync clean.
    case ok
    /// Serving, but something needs a person: a stale configuration, a broken
    /// manifest, a failed kernel operation. `problems` says what.
    case degraded
    /// Starting: no sync has completed yet.
    case starting
}

public struct ConfigStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// The file on disk is what runs.
        case current
        /// The last reload failed; the previous configuration still runs.
        case stale
    }

    public var path: String
    public var state: State
    /// When the configuration in force was loaded.
    public var loadedAt: Date
    /// Why the last reload was rejected (state == .stale).
    public var error: String?

    public init(path: String, state: State, loadedAt: Date, error: String? = nil) {
        self.path = path
        self.state = state
        self.loadedAt = loadedAt
        self.error = error
    }
}

public struct SyncStatus: Sendable, Hashable, Codable {
    public var at: Date
    public var durationSeconds: Double
    /// What triggered it: "start", "source", "config", "resync".
    public var reason: String
    /// Failed operations of that sync ("add destination ...: No such process (ESRCH)").
    public var errors: [String]

    public init(at: Date, durationSeconds: Double, reason: String, errors: [String]) {
        self.at = at
        self.durationSeconds = durationSeconds
        self.reason = reason
        self.errors = errors
    }
}

public struct StatusCounts: Sendable, Hashable, Codable {
    /// LoadBalancer Services Ballast handles (class matches).
    public var services: Int
    /// Of those, Services holding at least one address.
    public var allocated: Int
    /// Addresses this node announces.
    public var announced: Int
    /// Addresses no node announces that this node still answers ARP/NDP for
    /// while connections drain through them.
    public var draining: Int
    public var ipvsServices: Int
    public var ipvsDestinations: Int

    public init(services: Int = 0, allocated: Int = 0, announced: Int = 0, draining: Int = 0, ipvsServices: Int = 0,
                ipvsDestinations: Int = 0) {
        self.services = services
        self.allocated = allocated
        self.announced = announced
        self.draining = draining
        self.ipvsServices = ipvsServices
        self.ipvsDestinations = ipvsDestinations
    }

    private enum CodingKeys: String, CodingKey {
        case services, allocated, announced, draining, ipvsServices, ipvsDestinations
    }

    /// `draining` came later: a daemon started before an upgrade does not send it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(services: try c.decode(Int.self, forKey: .services), allocated: try c.decode(Int.self, forKey: .allocated),
                  announced: try c.decode(Int.self, forKey: .announced),
                  draining: try c.decodeIfPresent(Int.self, forKey: .draining) ?? 0,
                  ipvsServices: try c.decode(Int.self, forKey: .ipvsServices),
                  ipvsDestinations: try c.decode(Int.self, forKey: .ipvsDestinations))
    }
}

public struct StatusResponse: Sendable, Hashable, Codable {
    public var node: String
    public var health: Health
    /// One sentence per reason the health is not ok.
    public var problems: [String]
    public var dryRun: Bool
    public var startedAt: Date
    public var config: ConfigStatus
    /// Where Services come from ("files /etc/ballast/services").
    public var source: String
    /// Current problems with the source (broken manifests, missing directory).
    public var sourceProblems: [String]
    public var lastSync: SyncStatus?
    public var lastSuccessfulSyncAt: Date?
    public var counts: StatusCounts

    public init(node: String, health: Health, problems: [String], dryRun: Bool, startedAt: Date, config: ConfigStatus,
                source: String, sourceProblems: [String], lastSync: SyncStatus?, lastSuccessfulSyncAt: Date?,
                counts: StatusCounts) {
        self.node = node
        self.health = health
        self.problems = problems
        self.dryRun = dryRun
        self.startedAt = startedAt
        self.config = config
        self.source = source
        self.sourceProblems = sourceProblems
        self.lastSync = lastSync
        self.lastSuccessfulSyncAt = lastSuccessfulSyncAt
        self.counts = counts
    }
}

public struct ServiceRow: Sendable, Hashable, Codable {
    public var namespace: String
    public var name: String
    public var type: String
    public var externalIPs: [IPAddress]
    public var pool: String?
    /// The nodes that answer ARP/NDP for the addresses (one per address, often
    /// the same); empty when nobody can (no ready endpoint, no eligible node).
    public var announcingNodes: [String]
    /// Addresses no node announces that this node still answers ARP/NDP for
    /// while connections drain through them.
    public var drainingAddresses: [IPAddress]
    /// externalTrafficPolicy: "Cluster" or "Local".
    public var trafficPolicy: String
    public var endpointsReady: Int
    public var endpointsTotal: Int
    /// Destinations programmed in IPVS on this node, over all ports and addresses.
    public var ipvsDestinations: Int
    /// Why the Service is not (fully) served, if it is not; `ballastctl explain` says more.
    public var problem: String?

    public init(namespace: String, name: String, type: String, externalIPs: [IPAddress], pool: String?,
                announcingNodes: [String], drainingAddresses: [IPAddress] = [], trafficPolicy: String, endpointsReady: Int,
                endpointsTotal: Int, ipvsDestinations: Int, problem: String? = nil) {
        self.namespace = namespace
        self.name = name
        self.type = type
        self.externalIPs = externalIPs
        self.pool = pool
        self.announcingNodes = announcingNodes
        self.drainingAddresses = drainingAddresses
        self.trafficPolicy = trafficPolicy
        self.endpointsReady = endpointsReady
        self.endpointsTotal = endpointsTotal
        self.ipvsDestinations = ipvsDestinations
        self.problem = problem
    }

    public var ref: ObjectRef { ObjectRef(namespace: namespace, name: name) }

    private enum CodingKeys: String, CodingKey {
        case namespace, name, type, externalIPs, pool, announcingNodes, drainingAddresses, trafficPolicy, endpointsReady,
             endpointsTotal, ipvsDestinations, problem
    }

    /// `drainingAddresses` came later: a daemon started before an upgrade does not send it.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(namespace: try c.decode(String.self, forKey: .namespace), name: try c.decode(String.self, forKey: .name),
                  type: try c.decode(String.self, forKey: .type),
                  externalIPs: try c.decode([IPAddress].self, forKey: .externalIPs),
                  pool: try c.decodeIfPresent(String.self, forKey: .pool),
                  announcingNodes: try c.decode([String].self, forKey: .announcingNodes),
                  drainingAddresses: try c.decodeIfPresent([IPAddress].self, forKey: .drainingAddresses) ?? [],
                  trafficPolicy: try c.decode(String.self, forKey: .trafficPolicy),
                  endpointsReady: try c.decode(Int.self, forKey: .endpointsReady),
                  endpointsTotal: try c.decode(Int.self, forKey: .endpointsTotal),
                  ipvsDestinations: try c.decode(Int.self, forKey: .ipvsDestinations),
                  problem: try c.decodeIfPresent(String.self, forKey: .problem))
    }
}

public struct ServicesResponse: Sendable, Hashable, Codable {
    public var services: [ServiceRow]
    public init(services: [ServiceRow]) { self.services = services }
}

public struct PoolRow: Sendable, Hashable, Codable {
    public var name: String
    public var family: AddressFamily
    /// Usable addresses (after avoidBuggyIPs), saturating at UInt64.max for huge IPv6 ranges.
    public var size: UInt64
    public var inUse: UInt64
    /// Saturated sizes stay saturated: a /64 minus a few addresses is still "more than 2^64" to a reader.
    public var free: UInt64 { size == .max ? .max : (size >= inUse ? size - inUse : 0) }
    public var autoAssign: Bool

    public init(name: String, family: AddressFamily, size: UInt64, inUse: UInt64, autoAssign: Bool) {
        self.name = name
        self.family = family
        self.size = size
        self.inUse = inUse
        self.autoAssign = autoAssign
    }

    private enum CodingKeys: String, CodingKey { case name, family, size, inUse, free, autoAssign }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(name: try c.decode(String.self, forKey: .name), family: try c.decode(AddressFamily.self, forKey: .family),
                  size: try c.decode(UInt64.self, forKey: .size), inUse: try c.decode(UInt64.self, forKey: .inUse),
                  autoAssign: try c.decode(Bool.self, forKey: .autoAssign))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(family, forKey: .family)
        try c.encode(size, forKey: .size)
        try c.encode(inUse, forKey: .inUse)
        try c.encode(free, forKey: .free)
        try c.encode(autoAssign, forKey: .autoAssign)
    }
}

public struct PoolsResponse: Sendable, Hashable, Codable {
    public var pools: [PoolRow]
    public init(pools: [PoolRow]) { self.pools = pools }
}

public struct ExplainResponse: Sendable, Hashable, Codable {
    public var service: String
    /// Plain sentences, in the order a person would check things.
    public var sentences: [String]
    public init(service: String, sentences: [String]) {
        self.service = service
        self.sentences = sentences
    }
}

public struct IPVSDestinationRow: Sendable, Hashable, Codable {
    /// "10.0.0.5:8080" or "[2001:db8::5]:8080".
    public var address: String
    public var forwarding: IPVSForwarding
    public var weight: Int32
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32

    public init(address: String, forwarding: IPVSForwarding, weight: Int32, activeConnections: UInt32,
                inactiveConnections: UInt32) {
        self.address = address
        self.forwarding = forwarding
        self.weight = weight
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
    }
}

public struct IPVSServiceRow: Sendable, Hashable, Codable {
    /// "TCP 192.0.2.10:80", as ipvsadm writes it.
    public var service: String
    public var scheduler: IPVSScheduler
    /// "namespace/name" of the Service this virtual service is for; nil when Ballast does not own it.
    public var owner: String?
    public var destinations: [IPVSDestinationRow]

    public init(service: String, scheduler: IPVSScheduler, owner: String?, destinations: [IPVSDestinationRow]) {
        self.service = service
        self.scheduler = scheduler
        self.owner = owner
        self.destinations = destinations
    }
}

public struct IPVSResponse: Sendable, Hashable, Codable {
    /// When the table was read from the kernel.
    public var observedAt: Date?
    public var services: [IPVSServiceRow]
    /// Why the table could not be read, if it could not.
    public var error: String?

    public init(observedAt: Date?, services: [IPVSServiceRow], error: String? = nil) {
        self.observedAt = observedAt
        self.services = services
        self.error = error
    }
}

/// JSON settings shared by server and client: ISO 8601 dates, one line per message.
enum StatusCodec {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
