// Kubernetes objects in the shapes Ballast needs: v1 Service, discovery.k8s.io/v1
// EndpointSlice (v1 Endpoints are converted to slices when decoded), v1 Node and
// v1 Namespace. Plain values; BallastConfig decodes them from YAML/JSON and the
// Kubernetes source from the API. Field names follow the API so that a reader
// who knows `kubectl get -o yaml` recognises them.

/// namespace/name of a namespaced object.
public struct ObjectRef: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    /// Parses "namespace/name"; a bare "name" is in "default", as kubectl assumes.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1 where !parts[0].isEmpty: self.init(namespace: "default", name: String(parts[0]))
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty: self.init(namespace: String(parts[0]), name: String(parts[1]))
        default: return nil
        }
    }

    public var description: String { "\(namespace)/\(name)" }
    public static func < (a: Self, b: Self) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// Where an object was read from, for messages ("services/web.yaml:12").
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int = 0) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { column > 0 ? "\(file):\(line):\(column)" : "\(file):\(line)" }
}

public enum ServiceType: String, Sendable, Hashable, CaseIterable {
    case clusterIP = "ClusterIP"
    case nodePort = "NodePort"
    case loadBalancer = "LoadBalancer"
    case externalName = "ExternalName"
}

public enum TrafficPolicy: String, Sendable, Hashable, CaseIterable {
    case cluster = "Cluster"
    case local = "Local"
}

public enum IPFamilyPolicy: String, Sendable, Hashable, CaseIterable {
    case singleStack = "SingleStack"
    case preferDualStack = "PreferDualStack"
    case requireDualStack = "RequireDualStack"
}

public enum SessionAffinity: Sendable, Hashable {
    case none
    /// Kubernetes' default timeout is 10800 s (3 h).
    case clientIP(timeoutSeconds: UInt32)

    public static let defaultClientIPTimeout: UInt32 = 10800
}

/// `targetPort`: a number, or the name of a container port resolved per endpoint slice.
public enum TargetPort: Sendable, Hashable, CustomStringConvertible {
    case number(UInt16)
    case name(String)

    public var description: String {
        switch self {
        case .number(let n): "\(n)"
        case .name(let s): s
        }
    }
}

public struct ServicePort: Sendable, Hashable {
    public var name: String?
    public var `protocol`: IPVSProtocol
    public var port: UInt16
    /// nil means "same as port", as the API defaults it.
    public var targetPort: TargetPort?
    public var nodePort: UInt16?

    public init(name: String? = nil, protocol: IPVSProtocol = .tcp, port: UInt16,
                targetPort: TargetPort? = nil, nodePort: UInt16? = nil) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }

    public var effectiveTargetPort: TargetPort { targetPort ?? .number(port) }
}

public struct Service: Sendable, Hashable {
    // The one-byte enums sit together at the end, after `sessionAffinity`:
    // spread among the word-sized fields, each took a word of padding (16
    // bytes more per Service, and the cache holds every Service). No `uid`:
    // nothing reads it, and at 36 characters it was a heap String each.
    public var ref: ObjectRef
    public var labels: [String: String]
    /// Only those under `ServiceAnnotations.prefixes`, the ones Ballast reads:
    /// decoding drops the others (kubectl's last-applied-configuration alone
    /// is the whole object as JSON).
    public var annotations: [String: String]
    public var ports: [ServicePort]
    /// nil: no selector (endpoints are managed by hand); empty never matches in Kubernetes either.
    public var selector: [String: String]?
    public var clusterIPs: [IPAddress]
    /// spec.loadBalancerIP (deprecated upstream, still honoured by MetalLB), kept as text so a
    /// bad value becomes a reason on this Service rather than a decode failure of the file.
    public var loadBalancerIP: String?
    public var loadBalancerClass: String?
    public var ipFamilies: [AddressFamily]
    public var externalIPs: [IPAddress]
    /// status.loadBalancer.ingress[].ip: what an earlier controller assigned.
    public var ingressIPs: [IPAddress]
    public var location: SourceLocation?
    public var sessionAffinity: SessionAffinity
    public var type: ServiceType
    public var externalTrafficPolicy: TrafficPolicy
    public var internalTrafficPolicy: TrafficPolicy
    public var ipFamilyPolicy: IPFamilyPolicy?

    public init(ref: ObjectRef, labels: [String: String] = [:], annotations: [String: String] = [:],
                type: ServiceType = .clusterIP, ports: [ServicePort] = [], selector: [String: String]? = nil,
                clusterIPs: [IPAddress] = [], externalTrafficPolicy: TrafficPolicy = .cluster,
                internalTrafficPolicy: TrafficPolicy = .cluster, sessionAffinity: SessionAffinity = .none,
                loadBalancerIP: String? = nil, loadBalancerClass: String? = nil, ipFamilies: [AddressFamily] = [],
                ipFamilyPolicy: IPFamilyPolicy? = nil, externalIPs: [IPAddress] = [], ingressIPs: [IPAddress] = [],
                location: SourceLocation? = nil) {
        self.ref = ref
        self.labels = labels
        self.annotations = annotations
        self.type = type
        self.ports = ports
        self.selector = selector
        self.clusterIPs = clusterIPs
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.sessionAffinity = sessionAffinity
        self.loadBalancerIP = loadBalancerIP
        self.loadBalancerClass = loadBalancerClass
        self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy
        self.externalIPs = externalIPs
        self.ingressIPs = ingressIPs
        self.location = location
    }
}

/// EndpointSlice endpoint conditions. The API leaves them optional; the
/// accessors apply its documented defaults.
public struct EndpointConditions: Sendable, Hashable {
    public var ready: Bool?
    public var serving: Bool?
    public var terminating: Bool?

    public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }

    /// "nil should be interpreted as ready" (discovery.k8s.io/v1 docs).
    public var isReady: Bool { ready ?? true }
    /// Serving defaults to ready when unset (older controllers do not set it).
    public var isServing: Bool { serving ?? isReady }
    public var isTerminating: Bool { terminating ?? false }
}

/// One endpoint of a slice, with what the planner reads of it.
///
/// The API lets an endpoint list up to 100 addresses, "assumed to be fungible
/// and clients may choose to only use the first element" (discovery.k8s.io/v1);
/// the EndpointSlice controller writes exactly one, and kube-proxy uses the
/// first. Ballast keeps that one, inline: a large cluster holds 100,000
/// endpoints, and an array each was a heap allocation each (issue 5, memory).
/// `zone` and `hostname` are not kept for the same reason: nothing reads them,
/// and the targetRef is kept as a hash (`EndpointTarget`), not as its names.
public struct Endpoint: Sendable, Hashable {
    public var address: IPAddress
    public var conditions: EndpointConditions
    public var nodeName: String?
    /// The object behind the endpoint (`.none` when the slice does not say).
    public var target: EndpointTarget

    public init(address: IPAddress, conditions: EndpointConditions = EndpointConditions(), nodeName: String? = nil,
                target: EndpointTarget = .none) {
        self.address = address
        self.conditions = conditions
        self.nodeName = nodeName
        self.target = target
    }
}

/// An endpoint's `targetRef` (the Pod behind it, usually) as a 64-bit hash:
/// FNV-1a over its kind, namespace and name, each followed by a 0 byte,
/// which no Kubernetes name holds. The one reader is the count of a
/// Service's pods: a dual-stack Pod is listed in one slice per family and
/// counts once. As an `ObjectRef` it made every endpoint 72 bytes instead
/// of 48, and a Pod's generated name (`web-7d9f8b6c5d-x2k4q`: more than the
/// 15 bytes a String holds inline) took a heap allocation of its own, at
/// 100,000 endpoints (issue 5, memory).
///
/// FNV-1a rather than Swift's `Hasher`, which is seeded per process: the
/// same Pod has the same hash in every run. Two Pods of one Service whose
/// hashes collide count as one, which only lowers the endpoint counts that
/// status shows (`ballastctl services`, `explain`); forwarding reads
/// addresses, not this. Among the n Pods of one Service the chance is about
/// n² / 2⁶⁵: 3·10⁻¹⁴ for 1,000 Pods.
public struct EndpointTarget: Sendable, Hashable {
    /// The hash; 0 is reserved for `none`, and a hash that comes out 0 is stored as 1.
    public let value: UInt64

    /// No targetRef.
    public static let none = EndpointTarget(value: 0)

    private init(value: UInt64) { self.value = value }

    public init(kind: String, namespace: String, name: String) {
        var hash = FNV1a()
        hash.combine(kind)
        hash.combine(namespace)
        hash.combine(name)
        self = hash.target
    }

    /// The Pod `ref`, as the EndpointSlice controller names it (kind Pod).
    public static func pod(_ ref: ObjectRef) -> EndpointTarget {
        EndpointTarget(kind: "Pod", namespace: ref.namespace, name: ref.name)
    }

    public var isNone: Bool { value == 0 }

    /// FNV-1a 64 over the fields given, in order; decoders feed it the bytes
    /// of the manifest without making Strings of them.
    public struct FNV1a {
        // FNV-1a 64's offset basis and prime (IETF draft-eastlake-fnv).
        private var state: UInt64 = 0xcbf2_9ce4_8422_2325
        private static let prime: UInt64 = 0x0000_0100_0000_01b3

        public init() {}

        public mutating func combine(_ field: UnsafeBufferPointer<UInt8>) {
            for byte in field { mix(byte) }
            mix(0)
        }

        public mutating func combine(_ field: String) {
            var field = field
            field.withUTF8 { combine($0) }
        }

        private mutating func mix(_ byte: UInt8) {
            state = (state ^ UInt64(byte)) &* Self.prime
        }

        public var target: EndpointTarget { EndpointTarget(value: state == 0 ? 1 : state) }
    }
}

public struct EndpointPort: Sendable, Hashable {
    /// Matches ServicePort.name ("" or nil for the single unnamed port).
    public var name: String?
    public var port: UInt16?
    public var `protocol`: IPVSProtocol

    public init(name: String? = nil, port: UInt16?, protocol: IPVSProtocol = .tcp) {
        self.name = name
        self.port = port
        self.protocol = `protocol`
    }
}

public struct EndpointSlice: Sendable, Hashable {
    public var ref: ObjectRef
    /// Label kubernetes.io/service-name: the Service this slice belongs to.
    public var serviceName: String
    /// IPv4 or IPv6; FQDN slices are dropped when decoded (IPVS needs addresses).
    public var addressType: AddressFamily
    public var endpoints: [Endpoint]
    public var ports: [EndpointPort]
    public var location: SourceLocation?

    public init(ref: ObjectRef, serviceName: String, addressType: AddressFamily, endpoints: [Endpoint] = [],
                ports: [EndpointPort] = [], location: SourceLocation? = nil) {
        self.ref = ref
        self.serviceName = serviceName
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
        self.location = location
    }

    public var serviceRef: ObjectRef { ObjectRef(namespace: ref.namespace, name: serviceName) }
}

public struct Node: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    /// The Ready condition (true when the manifest has no status, as for hand-written files).
    public var ready: Bool
    public var unschedulable: Bool
    public var addresses: [IPAddress]

    public init(name: String, labels: [String: String] = [:], ready: Bool = true, unschedulable: Bool = false,
                addresses: [IPAddress] = []) {
        self.name = name
        self.labels = labels
        self.ready = ready
        self.unschedulable = unschedulable
        self.addresses = addresses
    }

    /// Kubernetes' label that removes a node from external load balancers (MetalLB honours it too).
    public static let excludeFromLoadBalancersLabel = "node.kubernetes.io/exclude-from-external-load-balancers"
}

public struct Namespace: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]

    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

/// Everything a source knows at one moment: the input of allocation and planning.
public struct ClusterSnapshot: Sendable, Hashable {
    public var services: [ObjectRef: Service]
    public var endpointSlices: [ObjectRef: EndpointSlice]
    public var nodes: [String: Node]
    public var namespaces: [String: Namespace]

    public init(services: [ObjectRef: Service] = [:], endpointSlices: [ObjectRef: EndpointSlice] = [:],
                nodes: [String: Node] = [:], namespaces: [String: Namespace] = [:]) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.namespaces = namespaces
    }

    /// Slices of one Service, in a stable order.
    public func slices(for service: ObjectRef) -> [EndpointSlice] {
        endpointSlices.values.filter { $0.serviceRef == service }.sorted { $0.ref < $1.ref }
    }
}
