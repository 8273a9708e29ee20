import BallastCore

/// MetalLB's own pool definitions, read so that users can move from MetalLB
/// without rewriting them:
///
/// - `metallb.io/v1beta1` IPAddressPool and L2Advertisement (and the
///   deprecated AddressPool with a `protocol`), as files or `kind: List`;
/// - the legacy `config` ConfigMap (MetalLB before 0.13), or the text of its
///   `config` key on its own.
///
/// L2Advertisements are folded into the pools they select (interfaces and
/// nodeSelectors); BGP resources are ignored with a warning, and a BGP pool is
/// an error, because Ballast only announces with ARP/NDP.
struct MetalLBResources {
    struct L2Advertisement {
        var name: String
        var location: SourceLocation
        var ipAddressPools: [String]
        var ipAddressPoolSelectors: [LabelSelector]
        var nodeSelectors: [LabelSelector]
        var interfaces: [String]

        /// MetalLB: an advertisement naming no pool and no selector applies to every pool.
        func selects(_ pool: DecodedPool) -> Bool {
            (ipAddressPools.isEmpty && ipAddressPoolSelectors.isEmpty) || ipAddressPools.contains(pool.pool.name)
                || ipAddressPoolSelectors.contains { $0.matches(pool.labels) }
        }
    }

    private(set) var pools: [DecodedPool] = []
    /// Pools whose definition says layer2 itself (legacy ConfigMap, AddressPool
    /// CRD): MetalLB announces them everywhere, with no L2Advertisement.
    private var announcedByDefinition: Set<String> = []
    private(set) var advertisements: [L2Advertisement] = []

    static let ipAddressPoolKeys = PoolDecoding.ipAddressPoolKeys
    static let l2AdvertisementKeys = ["ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "interfaces"]
    static let addressPoolKeys = ["protocol", "addresses", "autoAssign", "avoidBuggyIPs", "bgpAdvertisements"]
    static let legacyKeys = ["address-pools", "peers", "bgp-communities", "bfd-profiles"]
    static let legacyPoolKeys = ["name", "protocol", "addresses", "auto-assign", "avoid-buggy-ips", "bgp-advertisements"]
    private static let bgpKinds: Set = ["BGPPeer", "BGPAdvertisement", "BFDProfile", "Community"]

    /// Whether a document is MetalLB's rather than a ballast.yaml: an object
    /// (apiVersion/kind) or the legacy configuration (address-pools).
    static func isMetalLB(_ document: YAMLNode) -> Bool {
        guard case .mapping(let pairs) = document.content else { return false }
        return pairs.contains { ["apiVersion", "kind", "address-pools"].contains($0.key.scalar?.text) }
    }

    /// Adds the resources of one file. `source` is the file's text, to place
    /// findings inside the ConfigMap's embedded configuration.
    mutating func read(_ documents: [YAMLNode], source: String, sink: DiagnosticSink) {
        let objects = KubernetesObject.objects(in: documents, sink: sink) { m in
            if m.raw("address-pools") != nil {
                readLegacy(m)
            } else {
                m.value.warning("not a MetalLB resource (no apiVersion/kind, no address-pools); ignored")
            }
        }
        for object in objects {
            let fields = object.fields
            switch (object.apiVersion.hasPrefix("metallb.io/"), object.kind) {
            case (true, "IPAddressPool"): readPool(object, deprecatedKind: false)
            case (true, "L2Advertisement"): readL2Advertisement(object)
            case (true, "AddressPool"): readPool(object, deprecatedKind: true)
            case (true, let kind) where Self.bgpKinds.contains(kind):
                fields.value.warning("\(kind) ignored: Ballast announces with ARP/NDP (layer 2) only and does not speak BGP")
            case (false, "ConfigMap") where object.apiVersion == "v1":
                readConfigMap(object, source: source)
            default:
                fields.value.warning("\(object.apiVersion) \(object.kind) is not a MetalLB pool definition; ignored")
            }
        }
    }

    /// An IPAddressPool, or the AddressPool CRD it replaced in MetalLB 0.13,
    /// which names its protocol and is announced without an L2Advertisement.
    private mutating func readPool(_ object: KubernetesObject, deprecatedKind: Bool) {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return }
        sink.about(object.subject(meta)) {
            let nameIsValid = poolNameIsValid(meta, object)
            let keys = deprecatedKind ? Self.addressPoolKeys : Self.ipAddressPoolKeys
            guard let spec = object.fields.required("spec")?.mapping(keys: keys, unknownKeys: .warning) else { return }
            let layer2 = !deprecatedKind || isLayer2(spec, advertisementsKey: "bgpAdvertisements", pool: meta.name)
            guard var decoded = PoolDecoding.spec(spec, location: object.location, unknownKeys: .warning), nameIsValid, layer2
            else { return }
            decoded.pool.name = meta.name
            decoded.nameLocation = meta.nameLocation
            decoded.labels = meta.labels
            pools.append(decoded)
            if deprecatedKind { announcedByDefinition.insert(meta.name) }
        }
    }

    private mutating func readL2Advertisement(_ object: KubernetesObject) {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return }
        sink.about(object.subject(meta)) {
            let advertisement: L2Advertisement? = sink.clean {
                // No spec at all is valid: every pool, every node, every interface.
                guard let spec = object.fields.section("spec", keys: Self.l2AdvertisementKeys, unknownKeys: .warning) else {
                    return nil
                }
                return L2Advertisement(
                    name: meta.name, location: object.location,
                    ipAddressPools: spec["ipAddressPools"]?.stringList() ?? [],
                    ipAddressPoolSelectors: spec["ipAddressPoolSelectors"]?.list { $0.labelSelector(unknownKeys: .warning) } ?? [],
                    nodeSelectors: spec["nodeSelectors"]?.list { $0.labelSelector(unknownKeys: .warning) } ?? [],
                    interfaces: spec["interfaces"]?.list(PoolDecoding.interfaceName) ?? [])
            }
            if let advertisement { advertisements.append(advertisement) }
        }
    }

    private mutating func readConfigMap(_ object: KubernetesObject, source: String) {
        let sink = object.fields.value.sink
        guard let meta = object.fields.objectMeta() else { return }
        sink.about(object.subject(meta)) {
            guard let config = object.fields["data"]?.mapping()?["config"] else {
                object.fields.value.warning("no data.config key, so no MetalLB configuration; ignored")
                return
            }
            guard let text = config.string() else { return }
            let documents: [YAMLNode]
            do throws(Diagnostics) {
                documents = try YAMLDocuments.parse(text, origin: TextOrigin(embeddedIn: config.node, source: source))
            } catch {
                sink.append(error.all)
                return
            }
            guard let document = documents.first else {
                config.warning("the MetalLB configuration is empty")
                return
            }
            if documents.count > 1 { config.error("holds \(documents.count) YAML documents; expected one") }
            guard let root = Value(node: document, path: "", sink: sink).mapping() else { return }
            readLegacy(root)
        }
    }

    /// The legacy configuration (MetalLB < 0.13): kebab-case keys, a protocol per pool.
    private mutating func readLegacy(_ m: MappingReader) {
        guard let root = m.value.mapping(keys: Self.legacyKeys, unknownKeys: .warning) else { return }
        for key in ["peers", "bgp-communities", "bfd-profiles"] {
            root[key]?.warning("ignored: Ballast announces with ARP/NDP (layer 2) only and does not speak BGP")
        }
        for item in root["address-pools"]?.list() ?? [] {
            let decoded: DecodedPool? = item.sink.clean {
                guard let p = item.mapping(keys: Self.legacyPoolKeys, unknownKeys: .warning) else { return nil }
                let nameValue = p.required("name")
                let name = nameValue.flatMap(PoolDecoding.poolName)
                let layer2 = isLayer2(p, advertisementsKey: "bgp-advertisements", pool: name)
                let ranges = p.required("addresses").flatMap(PoolDecoding.addresses)
                let autoAssign = p["auto-assign"]?.bool()
                let avoidBuggyIPs = p["avoid-buggy-ips"]?.bool()
                guard let name, let nameValue, let ranges, layer2 else { return nil }
                let pool = AddressPool(name: name, ranges: ranges.map(\.range), autoAssign: autoAssign ?? true,
                                       avoidBuggyIPs: avoidBuggyIPs ?? false, location: p.location)
                return DecodedPool(pool: pool, nameLocation: nameValue.location, rangeLocations: ranges.map(\.location))
            }
            if let decoded {
                pools.append(decoded)
                announcedByDefinition.insert(decoded.pool.name)
            }
        }
    }

    /// `protocol: layer2`; BGP is an error, because announcing those addresses
    /// with ARP instead would silently change how they are reached.
    private func isLayer2(_ m: MappingReader, advertisementsKey: String, pool: String?) -> Bool {
        guard let protocolValue = m.required("protocol", hint: "MetalLB needs it too: protocol: layer2"),
              let proto = protocolValue.choice([("layer2", "layer2"), ("bgp", "bgp")]) else { return false }
        guard proto == "layer2" else {
            protocolValue.error("\(pool.map { "pool \"\($0)\"" } ?? "this pool") uses protocol bgp; "
                                + "Ballast announces with ARP/NDP (layer 2) only",
                                hint: "set protocol: layer2 to announce these addresses on the local network, "
                                    + "or leave the pool out")
            return false
        }
        m[advertisementsKey]?.warning("ignored: BGP advertisements do not apply to a layer2 pool")
        return true
    }

    private func poolNameIsValid(_ meta: ObjectMeta, _ object: KubernetesObject) -> Bool {
        guard let problem = Validation.dnsSubdomainProblem(meta.name) else { return true }
        object.fields.value.sink.error("pool name \"\(meta.name)\" \(problem)", at: meta.nameLocation)
        return false
    }

    /// The pools with their L2Advertisements applied.
    func resolvedPools(sink: DiagnosticSink) -> [DecodedPool] {
        let names = Set(pools.map(\.pool.name))
        for advertisement in advertisements {
            for name in advertisement.ipAddressPools where !names.contains(name) {
                sink.warning("L2Advertisement \(advertisement.name) names pool \"\(name)\", which is not defined",
                             at: advertisement.location,
                             hint: Suggestion.closest(to: name, in: names).map { "did you mean \"\($0)\"?" })
            }
        }
        return pools.map { decoded in
            guard !announcedByDefinition.contains(decoded.pool.name) else { return decoded }
            var result = decoded
            let matching = advertisements.filter { $0.selects(decoded) }
            guard !matching.isEmpty else {
                sink.warning("no L2Advertisement selects pool \"\(decoded.pool.name)\": MetalLB would assign its addresses "
                             + "but not announce them; Ballast announces them from every node", at: decoded.pool.location,
                             hint: "add an L2Advertisement for this pool (one with an empty spec selects every pool)")
                return result
            }
            // Several advertisements: MetalLB announces when any of them matches
            // the node; Ballast keeps one interface list and one node filter per
            // pool, so it takes their union (an empty list in one means "all").
            result.pool.interfaces = matching.contains { $0.interfaces.isEmpty } ? nil
                : unique(matching.flatMap(\.interfaces))
            result.pool.nodeSelectors = matching.contains { $0.nodeSelectors.isEmpty } ? []
                : unique(matching.flatMap(\.nodeSelectors))
            let shapes = Set(matching.map { Shape(interfaces: $0.interfaces, nodeSelectors: $0.nodeSelectors) })
            if shapes.count > 1 {
                sink.warning("L2Advertisements \(matching.map(\.name).joined(separator: ", ")) select pool "
                             + "\"\(decoded.pool.name)\" with different interfaces or nodeSelectors; Ballast merges them, so "
                             + "every selected node announces on every listed interface", at: decoded.pool.location)
            }
            return result
        }
    }

    private struct Shape: Hashable {
        var interfaces: [String]
        var nodeSelectors: [LabelSelector]
    }

    private func unique<T: Hashable>(_ items: [T]) -> [T] {
        var seen: Set<T> = []
        return items.filter { seen.insert($0).inserted }
    }
}
