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
    /// Family → Service port → backends in slice order.
    private(set) var byPort: [AddressFamily: [ServicePortKey: [Backend]]] = [:]
    /// Nodes running a ready backend, per family (Local traffic policy announces only from these).
    private(set) var readyNodes: [AddressFamily: Set<String>] = [:]
    /// Families with at least one ready backend.
    private(set) var readyFamilies: Set<AddressFamily> = []
    private(set) var counts = EndpointCounts()
    /// Ports that could not be resolved, as reasons.
    private(set) var problems: [String] = []

    init(service: Service, slices: [EndpointSlice]) {
        var counted: [String: (ready: Bool, draining: Bool)] = [:]
        for slice in slices {
            let family = slice.addressType
            var resolved: [(ServicePortKey, UInt16)] = []
            for port in service.ports {
                let key = ServicePortKey(protocol: port.protocol, port: port.port)
                guard !resolved.contains(where: { $0.0 == key }) else { continue }
                if let number = Self.resolve(port, in: slice) {
                    resolved.append((key, number))
                } else {
                    problems.append("targetPort \"\(port.effectiveTargetPort)\" is not a port of EndpointSlice \(slice.ref)")
                }
            }
            for endpoint in slice.endpoints {
                let conditions = endpoint.conditions
                let ready = conditions.isReady
                let draining = !ready && conditions.isServing && conditions.isTerminating
                guard let address = endpoint.addresses.first(where: { $0.family == family }) else { continue }
                // A pod appears once per family; count it once when the slices say which pod it is.
                let identity = endpoint.targetRef.map { "pod \($0)" } ?? "address \(address)"
                let seen = counted[identity]
                counted[identity] = ((seen?.ready ?? false) || ready, (seen?.draining ?? false) || draining)
                guard ready || draining else { continue }
                for (key, number) in resolved {
                    byPort[family, default: [:]][key, default: []].append(
                        Backend(endpoint: IPVSEndpoint(address: address, port: number), node: endpoint.nodeName, ready: ready))
                }
                if ready && !resolved.isEmpty {
                    readyFamilies.insert(family)
                    if let node = endpoint.nodeName { readyNodes[family, default: []].insert(node) }
                }
            }
        }
        counts = EndpointCounts(ready: counted.values.filter(\.ready).count,
                                draining: counted.values.filter { !$0.ready && $0.draining }.count,
                                total: counted.count)
    }

    func backends(_ family: AddressFamily, _ port: ServicePortKey) -> [Backend] { byPort[family]?[port] ?? [] }

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
