import BallastCore

/// A pool with the places its parts came from, kept until the pools are
/// validated together (overlaps and duplicate names name both places).
struct DecodedPool {
    var pool: AddressPool
    var nameLocation: SourceLocation
    /// Parallel to pool.ranges.
    var rangeLocations: [SourceLocation]
    /// metadata.labels of a MetalLB IPAddressPool, matched by L2Advertisement ipAddressPoolSelectors.
    var labels: [String: String] = [:]
}

enum PoolDecoding {
    /// Keys of a pool in ballast.yaml: MetalLB's IPAddressPool spec plus its
    /// name and the L2Advertisement fields, so one entry says everything.
    static let ballastKeys = ["name", "addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation", "interfaces",
                              "nodeSelectors"]
    /// Keys of MetalLB's IPAddressPool spec (metallb.io/v1beta1).
    static let ipAddressPoolKeys = ["addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"]
    static let serviceAllocationKeys = ["priority", "namespaces", "namespaceSelectors", "serviceSelectors"]

    /// A `pools:` entry of ballast.yaml.
    static func ballastPool(_ value: Value) -> DecodedPool? {
        value.sink.clean {
            guard let m = value.mapping(keys: ballastKeys, unknownKeys: .error) else { return nil }
            let nameValue = m.required("name", hint: "every pool needs a name; Services select pools by it")
            let name = nameValue.flatMap(poolName)
            let interfaces = m["interfaces"]?.list(interfaceName)
            let nodeSelectors = m["nodeSelectors"]?.list { $0.labelSelector(unknownKeys: .error) }
            guard var decoded = spec(m, location: m.location, unknownKeys: .error), let name, let nameValue else {
                return nil
            }
            decoded.pool.name = name
            decoded.nameLocation = nameValue.location
            // An empty list means "every interface", as in an L2Advertisement.
            decoded.pool.interfaces = interfaces.flatMap { $0.isEmpty ? nil : $0 }
            decoded.pool.nodeSelectors = nodeSelectors ?? []
            return decoded
        }
    }

    /// addresses, autoAssign, avoidBuggyIPs and serviceAllocation: the fields
    /// Ballast pools share with MetalLB's IPAddressPool spec. The name is the caller's.
    static func spec(_ m: MappingReader, location: SourceLocation, unknownKeys: MappingReader.UnknownKeys) -> DecodedPool? {
        m.value.sink.clean {
            let ranges = m.required("addresses", hint: "list CIDRs or first-last ranges, e.g. addresses: [192.0.2.0/24]")
                .flatMap(addresses)
            let autoAssign = m["autoAssign"]?.bool()
            let avoidBuggyIPs = m["avoidBuggyIPs"]?.bool()
            let allocation = m["serviceAllocation"].flatMap { serviceAllocation($0, unknownKeys: unknownKeys) }
            guard let ranges else { return nil }
            let pool = AddressPool(name: "", ranges: ranges.map(\.range), autoAssign: autoAssign ?? true,
                                   avoidBuggyIPs: avoidBuggyIPs ?? false, serviceAllocation: allocation, location: location)
            return DecodedPool(pool: pool, nameLocation: location, rangeLocations: ranges.map(\.location))
        }
    }

    /// The `addresses` list; every bad entry is reported, not only the first.
    static func addresses(_ value: Value) -> [(range: AddressRange, location: SourceLocation)]? {
        guard let items = value.list() else { return nil }
        if items.isEmpty {
            value.error("a pool needs at least one address range", hint: "e.g. addresses: [192.0.2.0/24]")
            return nil
        }
        return value.list { item -> (range: AddressRange, location: SourceLocation)? in
            guard let text = item.string() else { return nil }
            do throws(AddressRangeProblem) {
                return (try AddressRange(parsingPoolEntry: text), item.location)
            } catch {
                item.error(error.message, hint: error.hint)
                return nil
            }
        }
    }

    static func serviceAllocation(_ value: Value, unknownKeys: MappingReader.UnknownKeys) -> ServiceAllocation? {
        value.sink.clean {
            guard let m = value.mapping(keys: serviceAllocationKeys, unknownKeys: unknownKeys) else { return nil }
            return ServiceAllocation(
                priority: m["priority"]?.int(),
                namespaces: m["namespaces"]?.stringList() ?? [],
                namespaceSelectors: m["namespaceSelectors"]?.list { $0.labelSelector(unknownKeys: unknownKeys) } ?? [],
                serviceSelectors: m["serviceSelectors"]?.list { $0.labelSelector(unknownKeys: unknownKeys) } ?? [])
        }
    }

    /// Pool names are Kubernetes object names (DNS-1123 subdomains), because
    /// Services name pools in annotations and MetalLB pools are objects.
    static func poolName(_ value: Value) -> String? {
        guard let name = value.name() else { return nil }
        if let problem = Validation.dnsSubdomainProblem(name) {
            value.error("pool name \"\(name)\" \(problem)",
                        hint: "use lower-case letters, digits, \"-\" and \".\", starting and ending with a letter or digit")
            return nil
        }
        return name
    }

    static func interfaceName(_ value: Value) -> String? {
        guard let name = value.name() else { return nil }
        if let problem = Validation.interfaceNameProblem(name) {
            value.error("interface name \"\(name)\" \(problem)")
            return nil
        }
        return name
    }
}

/// Name rules of the systems Ballast talks to, as messages ("is too long").
enum Validation {
    /// Linux dev_valid_name(): at most IFNAMSIZ-1 bytes, not "." or "..", no "/", ":" or white space.
    static func interfaceNameProblem(_ name: String) -> String? {
        if name.utf8.count > 15 { return "is longer than 15 bytes (Linux IFNAMSIZ)" }
        if name == "." || name == ".." { return "is not allowed by Linux" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "contains \"/\", \":\" or white space, which Linux does not allow"
        }
        return nil
    }

    static func isLowerAlphanumeric(_ c: Character) -> Bool { c.isASCII && (c.isLowercase || c.isNumber) }

    /// Kubernetes IsDNS1123Subdomain.
    static func dnsSubdomainProblem(_ name: String) -> String? {
        if name.utf8.count > 253 { return "is longer than 253 characters" }
        guard name.allSatisfy({ isLowerAlphanumeric($0) || $0 == "-" || $0 == "." }),
              name.first.map(isLowerAlphanumeric) == true, name.last.map(isLowerAlphanumeric) == true else {
            return "is not a valid Kubernetes name"
        }
        return nil
    }
}
