// Builders for allocation and planning tests: values in code, no fixtures.
@testable import BallastCore

func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad address \(text) in a test") }
    return address
}

func ref(_ text: String) -> ObjectRef {
    guard let r = ObjectRef(parsing: text) else { fatalError("bad object reference \(text) in a test") }
    return r
}

/// "192.0.2.0/24" or "192.0.2.10-192.0.2.20".
func addressRange(_ text: String) -> AddressRange {
    let ends = text.split(separator: "-").map(String.init)
    if ends.count == 2, let r = AddressRange(first: ip(ends[0]), last: ip(ends[1])) { return r }
    guard let cidr = try? CIDR(parsing: text) else { fatalError("bad range \(text) in a test") }
    return AddressRange(cidr)
}

func pool(_ name: String, _ ranges: String..., autoAssign: Bool = true, avoidBuggyIPs: Bool = false,
          allocation: ServiceAllocation? = nil, interfaces: [String]? = nil,
          nodeSelectors: [LabelSelector] = []) -> AddressPool {
    AddressPool(name: name, ranges: ranges.map(addressRange), autoAssign: autoAssign, avoidBuggyIPs: avoidBuggyIPs,
                serviceAllocation: allocation, interfaces: interfaces, nodeSelectors: nodeSelectors)
}

/// A LoadBalancer Service; `ports` are TCP unless written "udp/53".
func lb(_ name: String, ports: [String] = ["80"], annotations: [String: String] = [:], labels: [String: String] = [:],
        selector: [String: String]? = ["app": "web"], policy: TrafficPolicy = .cluster, loadBalancerIP: String? = nil,
        loadBalancerClass: String? = nil, families: [AddressFamily] = [], familyPolicy: IPFamilyPolicy? = nil,
        ingress: [String] = [], affinity: SessionAffinity = .none, servicePorts: [ServicePort]? = nil) -> Service {
    let parsed = ports.map { text -> ServicePort in
        let parts = text.split(separator: "/")
        if parts.count == 2, let proto = IPVSProtocol(rawValue: String(parts[0])), let port = UInt16(parts[1]) {
            return ServicePort(protocol: proto, port: port)
        }
        guard let port = UInt16(text) else { fatalError("bad port \(text) in a test") }
        return ServicePort(protocol: .tcp, port: port)
    }
    return Service(ref: ref(name), labels: labels, annotations: annotations, type: .loadBalancer,
                   ports: servicePorts ?? parsed, selector: selector, externalTrafficPolicy: policy,
                   sessionAffinity: affinity, loadBalancerIP: loadBalancerIP, loadBalancerClass: loadBalancerClass,
                   ipFamilies: families, ipFamilyPolicy: familyPolicy, ingressIPs: ingress.map(ip))
}

func shared(_ key: String, _ extra: [String: String] = [:]) -> [String: String] {
    extra.merging(["metallb.universe.tf/allow-shared-ip": key]) { a, _ in a }
}

func allocate(_ services: [Service], pools: [AddressPool], namespaces: [Namespace] = [],
              previous: [String: [String]] = [:], handleUnclassed: Bool = true) -> AllocationResult {
    Allocator(pools: pools, handleUnclassedServices: handleUnclassed)
        .allocate(services: services, namespaces: Dictionary(uniqueKeysWithValues: namespaces.map { ($0.name, $0) }),
                  previous: Dictionary(uniqueKeysWithValues: previous.map { (ref($0.key), $0.value.map(ip)) }))
}

/// What a test expects for one Service, written compactly.
enum Outcome: Sendable, Hashable, CustomStringConvertible {
    /// Addresses in order, and the pool when it matters.
    case got([String], pool: String? = nil)
    /// The failure's text.
    case failed(String)
    case ignored(String)
    /// Not a LoadBalancer Service Ballast looks at.
    case absent

    var description: String {
        switch self {
        case let .got(a, pool): "got \(a)" + (pool.map { " from \($0)" } ?? "")
        case .failed(let s): "failed: \(s)"
        case .ignored(let s): "ignored: \(s)"
        case .absent: "absent"
        }
    }
}

func outcome(of name: String, in result: AllocationResult, comparingPool: Bool) -> Outcome {
    let r = ref(name)
    if let a = result.assignments[r] { return .got(a.addresses.map(\.description), pool: comparingPool ? a.pool : nil) }
    if let f = result.failures[r] { return .failed(f.description) }
    if let i = result.ignored[r] { return .ignored(i) }
    return .absent
}
