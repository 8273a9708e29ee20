import BallastCore

extension ManifestDecoding {
    /// The label that ties an EndpointSlice to its Service.
    static let serviceNameLabel = "kubernetes.io/service-name"

    static func endpointSlice(_ object: KubernetesObject) -> EndpointSlice? {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return nil }
        return sink.about(object.subject(meta)) {
            sink.clean {
                let typeValue = object.fields.required("addressType")
                guard let type = typeValue?.choice(families + [("FQDN", nil)]) else { return nil }
                guard let family = type else {
                    // IPVS forwards to addresses; a name would have to be resolved first.
                    typeValue?.note("FQDN slice dropped: IPVS needs endpoint addresses")
                    return nil
                }
                guard let service = meta.labels[serviceNameLabel] else {
                    object.fields.value.warning("has no \(serviceNameLabel) label, so it belongs to no Service; ignored")
                    return nil
                }
                let endpoints = object.fields["endpoints"]?.list { sliceEndpoint($0, family: family, namespace: meta.namespace) }
                let ports = object.fields["ports"]?.list(endpointPort)
                return EndpointSlice(ref: meta.ref, serviceName: service, addressType: family, endpoints: endpoints ?? [],
                                     ports: ports ?? [], location: object.location)
            }
        }
    }

    private static func sliceEndpoint(_ value: Value, family: AddressFamily, namespace: String) -> Endpoint? {
        value.sink.clean {
            guard let m = value.mapping() else { return nil }
            let list = m.required("addresses")
            // Every address is checked; the first is the one used (see Endpoint).
            let addresses = list?.list { item -> IPAddress? in
                guard let a = address(item) else { return nil }
                if a.family != family {
                    item.error("\(a) is not an \(family == .ipv4 ? "IPv4" : "IPv6") address, as the slice's addressType says")
                    return nil
                }
                return a
            }
            let conditions = m.section("conditions").map {
                EndpointConditions(ready: $0["ready"]?.bool(), serving: $0["serving"]?.bool(),
                                   terminating: $0["terminating"]?.bool())
            }
            guard let addresses, let conditions else { return nil }
            guard let first = addresses.first else {
                list?.error("lists no address; an endpoint has at least one")
                return nil
            }
            return Endpoint(address: first, conditions: conditions, nodeName: m["nodeName"]?.name(),
                            target: m["targetRef"].flatMap { target($0, namespace: namespace) } ?? .none)
        }
    }

    private static func endpointPort(_ value: Value) -> EndpointPort? {
        value.sink.clean {
            guard let m = value.mapping() else { return nil }
            // A port may be left unset: "all ports" for a headless selector-less Service.
            return EndpointPort(name: m["name"]?.string().flatMap { $0.isEmpty ? nil : $0 },
                                port: m["port"]?.int(in: 1...65535).map(UInt16.init),
                                protocol: m["protocol"]?.choice(protocols) ?? .tcp)
        }
    }

    /// A targetRef (an ObjectReference) as the hash Ballast keeps of it, read
    /// from the manifest's bytes: Strings of its names would otherwise be made
    /// for every endpoint only to be dropped. `namespace` (the slice's) applies
    /// when it names none; the API leaves its kind optional too.
    private static func target(_ value: Value, namespace: String) -> EndpointTarget? {
        guard let m = value.mapping(), let name = m.required("name") else { return nil }
        var hash = EndpointTarget.FNV1a()
        if let kind = m["kind"] {
            guard kind.withStringBytes({ hash.combine($0) }) != nil else { return nil }
        } else {
            hash.combine("")
        }
        if let namespace = m["namespace"] {
            guard namespace.withNameBytes({ hash.combine($0) }) != nil else { return nil }
        } else {
            hash.combine(namespace)
        }
        guard name.withNameBytes({ hash.combine($0) }) != nil else { return nil }
        return hash.target
    }

    /// Legacy v1 Endpoints as slices, the way Kubernetes' mirroring controller
    /// converts them: one slice per subset and address family; `addresses` are
    /// ready, `notReadyAddresses` are not (serving/terminating stay unset).
    static func endpoints(_ object: KubernetesObject) -> [EndpointSlice]? {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return nil }
        return sink.about(object.subject(meta)) {
            sink.clean {
                var slices: [EndpointSlice] = []
                for subset in object.fields["subsets"]?.list() ?? [] {
                    guard let m = subset.mapping() else { continue }
                    let namespace = meta.namespace
                    let ready = m["addresses"]?.list { legacyAddress($0, ready: true, namespace: namespace) } ?? []
                    let notReady = m["notReadyAddresses"]?.list { legacyAddress($0, ready: false, namespace: namespace) } ?? []
                    let ports = m["ports"]?.list(endpointPort) ?? []
                    for family in AddressFamily.allCases {
                        let endpoints = (ready + notReady).filter { $0.address.family == family }
                        guard !endpoints.isEmpty else { continue }
                        slices.append(EndpointSlice(
                            ref: ObjectRef(namespace: meta.namespace, name: "\(meta.name)-endpoints-\(slices.count)"),
                            serviceName: meta.name, addressType: family, endpoints: endpoints, ports: ports,
                            location: subset.location))
                    }
                }
                return slices
            }
        }
    }

    private static func legacyAddress(_ value: Value, ready: Bool, namespace: String) -> Endpoint? {
        guard let m = value.mapping(), let ip = m.required("ip").flatMap(address) else { return nil }
        return Endpoint(address: ip, conditions: EndpointConditions(ready: ready), nodeName: m["nodeName"]?.name(),
                        target: m["targetRef"].flatMap { target($0, namespace: namespace) } ?? .none)
    }

    static func node(_ object: KubernetesObject) -> Node? {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return nil }
        return sink.about(object.subject(meta, namespaced: false)) {
            sink.clean {
                guard let spec = object.fields.section("spec"), let status = object.fields.section("status") else { return nil }
                // A hand-written Node without status is taken as ready; with
                // status, the Ready condition decides (Unknown is not ready).
                var ready = true
                for condition in status["conditions"]?.list() ?? [] {
                    guard let c = condition.mapping(), c["type"]?.string() == "Ready" else { continue }
                    ready = c.required("status")?.choice([("True", true), ("False", false), ("Unknown", false)]) ?? false
                }
                var addresses: [IPAddress] = []
                for entry in status["addresses"]?.list() ?? [] {
                    // Hostname and DNS entries are names, not addresses.
                    guard let e = entry.mapping(), let type = e["type"]?.string(), type == "InternalIP" || type == "ExternalIP",
                          let a = e.required("address").flatMap(address) else { continue }
                    addresses.append(a)
                }
                return Node(name: meta.name, labels: meta.labels, ready: ready,
                            unschedulable: spec["unschedulable"]?.bool() ?? false, addresses: addresses)
            }
        }
    }

    static func namespace(_ object: KubernetesObject) -> Namespace? {
        guard let meta = object.fields.objectMeta() else { return nil }
        return Namespace(name: meta.name, labels: meta.labels)
    }
}
