// The backends of one Service, read from its EndpointSlices: per family and
// per Service port, the address:port to forward to, the node it runs on, and
// whether it takes new connections.

/// One candidate destination of a Service port.
struct Backend: Sendable, Hashable {
    var endpoint: IPVSEndpoint
    var node: String?
    /// Ready: weight 1. Terminating but still serving: weight 0, so IPVS sends it
    /// no new connections while established ones finish.
    var ready: Bool
}

struct ServiceBackends: Sendable {
    /// The Service's distinct ports, sorted: the index space of the backend lists.
    let ports: [ServicePortKey]
    /// [family slot][port index] → backends in slice order.
    private var lists: [[[Backend]]]
    /// Nodes running a ready backend, per family slot (Local traffic policy announces only from these);
    /// empty unless tracked.
    private var readyNodeSets: [Set<String>] = [[], []]
    private var ready: [Bool] = [false, false]
    private(set) var counts = EndpointCounts()
    /// Ports that could not be resolved, as reasons.
    private(set) var problems: [String] = []

    /// A pod is listed once per family; count it once when the slices say which pod it is.
    private enum Identity: Hashable {
        case target(EndpointTarget)
        case address(IPAddress)
    }

    /// - Parameter trackNodes: collect `readyNodes` (only Local traffic policy needs them).
    init(service: Service, slices: [EndpointSlice], trackNodes: Bool) {
        var byKey: [ServicePortKey: ServicePort] = [:]
        for port in service.ports where byKey[ServicePortKey(protocol: port.protocol, port: port.port)] == nil {
            byKey[ServicePortKey(protocol: port.protocol, port: port.port)] = port
        }
        ports = byKey.keys.sorted()
        let endpointCount = slices.reduce(0) { $0 + $1.endpoints.count }
        lists = Array(repeating: Array(repeating: [], count: ports.count), count: 2)
        // One slice lists each endpoint once; only several slices (two families, or
        // a large Service) need de-duplication to count pods.
        var seen: [Identity: (ready: Bool, draining: Bool)] = [:]
        if slices.count > 1 { seen.reserveCapacity(endpointCount) }
        var counts = EndpointCounts()
        for slice in slices {
            let family = slice.addressType, slot = family.slot
            var resolved: [(index: Int, port: UInt16)] = []
            for (index, key) in ports.enumerated() {
                let port = byKey[key]!
                if let number = Self.resolve(port, in: slice) {
                    resolved.append((index, number))
                } else {
                    problems.append("targetPort \"\(port.effectiveTargetPort)\" is not a port of EndpointSlice \(slice.ref)")
                }
            }
            for endpoint in slice.endpoints {
                // Decoding refuses an address of the other family; a slice built in code may still hold one.
                let address = endpoint.address
                guard address.family == family else { continue }
                let conditions = endpoint.conditions
                let isReady = conditions.isReady
                let draining = !isReady && conditions.isServing && conditions.isTerminating
                if slices.count == 1 {
                    counts.count(ready: isReady, draining: draining)
                } else {
                    let identity = endpoint.target.isNone ? Identity.address(address) : .target(endpoint.target)
                    let before = seen[identity]
                    seen[identity] = ((before?.ready ?? false) || isReady, (before?.draining ?? false) || draining)
                }
                guard isReady || draining, !resolved.isEmpty else { continue }
                for (index, number) in resolved {
                    lists[slot][index].append(Backend(endpoint: IPVSEndpoint(address: address, port: number),
                                                      node: endpoint.nodeName, ready: isReady))
                }
                if isReady {
                    ready[slot] = true
                    if trackNodes, let node = endpoint.nodeName { readyNodeSets[slot].insert(node) }
                }
            }
        }
        for state in seen.values { counts.count(ready: state.ready, draining: state.draining) }
        self.counts = counts
    }

    /// Backends of port `index` (into `ports`) in `family`.
    func backends(_ family: AddressFamily, port index: Int) -> [Backend] { lists[family.slot][index] }

    /// Whether any endpoint of `family` is ready to receive traffic on a resolved port.
    func hasReady(_ family: AddressFamily) -> Bool { ready[family.slot] }

    func readyNodes(_ family: AddressFamily) -> Set<String> { readyNodeSets[family.slot] }

    /// The port to forward to for `port` in `slice`. The EndpointSlice controller
    /// names slice ports after the Service port and resolves named targetPorts
    /// per pod, so a slice port of the Service port's name is authoritative.
    /// Hand-written slices may instead name the container port (the targetPort
    /// name) or list no ports at all (then a numeric targetPort applies).
    static func resolve(_ port: ServicePort, in slice: EndpointSlice) -> UInt16? {
        let name = port.name ?? ""
        if let match = slice.ports.first(where: { ($0.name ?? "") == name && $0.protocol == port.protocol }),
           let number = match.port {
            return number
        }
        switch port.effectiveTargetPort {
        case .number(let number):
            return number
        case .name(let target):
            return slice.ports.first(where: { $0.name == target && $0.protocol == port.protocol })?.port
        }
    }
}

extension EndpointCounts {
    fileprivate mutating func count(ready isReady: Bool, draining isDraining: Bool) {
        total += 1
        if isReady { ready += 1 } else if isDraining { draining += 1 }
    }
}

extension AddressFamily {
    /// 0 for IPv4, 1 for IPv6: an array index for per-family state.
    var slot: Int { self == .ipv4 ? 0 : 1 }
}
