// The IPVS table file read by `ballastctl ipvs apply`: a declarative list of
// virtual services with their destinations, in YAML or JSON. The format is
// documented in docs/ipvs-table.md; keep the two in step.
//
// Parsing is all-or-nothing: the whole file is checked and every problem is
// reported with FILE:LINE:COLUMN; a file with any problem yields no table,
// so nothing of it is ever applied.

import BallastCore

/// A parsed table file.
public struct IPVSTable: Sendable, Hashable {
    /// In file order, destinations in file order.
    public var services: [IPVSVirtualService]
    /// The file's `owns` section, when it has one.
    public var declaredOwnership: IPVSOwnership?

    public init(services: [IPVSVirtualService], declaredOwnership: IPVSOwnership? = nil) {
        self.services = services
        self.declaredOwnership = declaredOwnership
    }

    /// What applying this file may change: its `owns` section, or else exactly
    /// the addresses and firewall marks its services use.
    public var ownership: IPVSOwnership { declaredOwnership ?? IPVSOwnership(covering: services) }
}

/// Values for keys a file leaves out.
public struct IPVSTableDefaults: Sendable, Hashable {
    public var scheduler: IPVSScheduler
    public var forwarding: IPVSForwarding
    public var weight: Int32
    /// Seconds, for `persistence: {}` without a timeout (ipvsadm's -p default).
    public var persistenceTimeout: UInt32

    public init(scheduler: IPVSScheduler = .rr, forwarding: IPVSForwarding = .masquerade, weight: Int32 = 1,
                persistenceTimeout: UInt32 = 300) {
        self.scheduler = scheduler
        self.forwarding = forwarding
        self.weight = weight
        self.persistenceTimeout = persistenceTimeout
    }
}

public enum IPVSTableFile {
    static let rootKeys = ["services", "owns"]
    static let ownsKeys = ["addresses", "fwmarks"]
    static let serviceKeys = ["address", "port", "protocol", "fwmark", "family", "scheduler", "flags",
                              "persistence", "destinations"]
    static let persistenceKeys = ["timeout", "netmask"]
    static let destinationKeys = ["address", "port", "weight", "forward", "upperThreshold", "lowerThreshold"]
    /// Read-only keys that `ballastctl ipvs show --json` writes; accepted and
    /// ignored so that its output is itself a valid table file.
    static let serviceStatusKeys: Set<String> = ["stats"]
    static let destinationStatusKeys: Set<String> = ["connections", "stats"]

    /// Longest persistence ipvsadm accepts (31 days).
    static let maxPersistenceTimeout: UInt32 = 2_678_400

    /// Reads and checks the file at `path`.
    public static func load(path: String, defaults: IPVSTableDefaults = IPVSTableDefaults()) throws(ConfigError) -> IPVSTable {
        try parse(YAMLDocument.load(path: path), defaults: defaults)
    }

    /// Checks `text`, named `file` in diagnostics.
    public static func parse(_ text: String, file: String,
                             defaults: IPVSTableDefaults = IPVSTableDefaults()) throws(ConfigError) -> IPVSTable {
        try parse(YAMLDocument(text: text, file: file), defaults: defaults)
    }

    static func parse(_ document: YAMLDocument, defaults: IPVSTableDefaults) throws(ConfigError) -> IPVSTable {
        guard let root = document.root else {
            throw ConfigError("the file is empty; it needs a 'services' list (see docs/ipvs-table.md)",
                              at: SourceLocation(file: document.file))
        }
        let parser = Parser(defaults: defaults)
        let table = parser.readTable(root)
        try parser.reader.finish()
        guard let table else {
            throw ConfigError("the file has no readable 'services' list", at: SourceLocation(file: document.file))
        }
        return table
    }
}

/// One pass over a document. Every method reports its own problems and
/// returns nil for a part it could not read; parsing goes on so that all
/// problems are reported at once.
private struct Parser {
    let defaults: IPVSTableDefaults
    let reader = YAMLReader()

    init(defaults: IPVSTableDefaults) { self.defaults = defaults }

    /// A parsed service with the nodes later checks point at.
    struct Located {
        var service: IPVSVirtualService
        var keyNode: YAMLNode
    }

    func readTable(_ root: YAMLNode) -> IPVSTable? {
        guard let m = reader.mapping(root, "the top level", keys: IPVSTableFile.rootKeys) else { return nil }
        let ownership = m["owns"].flatMap(readOwns)
        guard let servicesNode = reader.required(m, "services", of: "the file"),
              let items = reader.sequence(servicesNode, "'services'") else { return nil }

        var parsed: [Located] = []
        var firstLine: [VirtualServiceKey: Int] = [:]
        for item in items {
            guard let s = readService(item) else { continue }
            if let line = firstLine[s.service.key] {
                reader.error("duplicate service \(s.service.key) (first defined at line \(line)); "
                                + "merge the two entries", at: s.keyNode)
                continue
            }
            firstLine[s.service.key] = s.keyNode.location.line
            if let ownership, !ownership.owns(s.service.key) {
                reader.error("\(s.service.key) is outside 'owns' (\(ownership)); "
                                + "extend 'owns' or remove the service", at: s.keyNode)
            }
            parsed.append(s)
        }
        return IPVSTable(services: parsed.map(\.service), declaredOwnership: ownership)
    }

    func readOwns(_ node: YAMLNode) -> IPVSOwnership? {
        guard let m = reader.mapping(node, "'owns'", keys: IPVSTableFile.ownsKeys) else { return nil }
        var prefixes: [CIDR] = []
        var marks: Set<UInt32> = []
        if let list = m["addresses"].flatMap({ reader.sequence($0, "'owns.addresses'") }) {
            for item in list {
                guard let text = reader.string(item, "an owned address range") else { continue }
                do {
                    prefixes.append(try CIDR(parsing: text))
                } catch {
                    reader.error("\(error.description) (write a prefix such as 192.0.2.0/24)", at: item)
                }
            }
        }
        if let list = m["fwmarks"].flatMap({ reader.sequence($0, "'owns.fwmarks'") }) {
            for item in list {
                if let mark = reader.integer(item, "an owned firewall mark", in: UInt32(1)...UInt32.max) {
                    marks.insert(mark)
                }
            }
        }
        return IPVSOwnership(prefixes: prefixes, firewallMarks: marks)
    }

    func readAddress(_ node: YAMLNode, _ what: String) -> IPAddress? {
        guard let text = reader.string(node, what) else { return nil }
        guard let a = IPAddress(text) else {
            reader.error("\(what) '\(text)' is not an IPv4 or IPv6 address (names are not resolved)", at: node)
            return nil
        }
        return a
    }

    func readService(_ node: YAMLNode) -> Located? {
        guard let m = reader.mapping(node, "a service", keys: IPVSTableFile.serviceKeys,
                                     ignored: IPVSTableFile.serviceStatusKeys) else { return nil }
        let scheduler = m["scheduler"].map { reader.choice($0, "scheduler", as: IPVSScheduler.self) }
            ?? defaults.scheduler
        guard let found = readServiceKey(m) else {
            // Destinations are still checked, against an unknown service.
            if let list = m["destinations"].flatMap({ reader.sequence($0, "'destinations'") }) {
                for item in list { _ = readDestination(item, of: nil) }
            }
            return nil
        }
        let (key, keyNode) = found
        let persistence = m["persistence"].flatMap { readPersistence($0, family: key.family) }

        if case .address(_, 0, _) = key, m["persistence"] == nil, let portNode = m["port"] {
            reader.error("port 0 (all ports) needs 'persistence', as in the kernel; "
                            + "add persistence or use a port from 1 to 65535", at: portNode)
        }
        let flags = m["flags"].flatMap { readFlags($0, key: key, scheduler: scheduler ?? defaults.scheduler) } ?? []

        var destinations: [IPVSDestination] = []
        var firstLine: [IPVSEndpoint: Int] = [:]
        if let list = m["destinations"].flatMap({ reader.sequence($0, "'destinations'") }) {
            for item in list {
                guard let d = readDestination(item, of: key) else { continue }
                if let line = firstLine[d.endpoint] {
                    reader.error("duplicate destination \(d.endpoint) in \(key) (first defined at line \(line)); "
                                    + "keep one", at: item)
                    continue
                }
                firstLine[d.endpoint] = item.location.line
                destinations.append(d)
            }
        }
        guard let scheduler else { return nil }
        return Located(service: IPVSVirtualService(key: key, scheduler: scheduler, flags: flags,
                                                   persistence: persistence, destinations: destinations),
                       keyNode: keyNode)
    }

    /// The service's key and the node that names it (address or fwmark).
    func readServiceKey(_ m: YAMLMapping) -> (VirtualServiceKey, YAMLNode)? {
        switch (m["address"], m["fwmark"]) {
        case (.some, .some):
            reader.error("a service has either 'address' or 'fwmark', not both", at: m.keyNode("fwmark")!)
            return nil
        case (.none, .none):
            reader.error("a service needs 'address' (with 'port' and 'protocol') or 'fwmark' (with 'family')",
                         at: m.node)
            // The rest of the key is still checked, to report everything at once.
            _ = m["port"].map { reader.integer($0, "port", in: UInt16(0)...UInt16.max) }
            _ = m["protocol"].map { reader.choice($0, "protocol", as: IPVSProtocol.self) }
            _ = m["family"].map { reader.choice($0, "family", as: AddressFamily.self) }
            return nil
        case (let addressNode?, .none):
            if let f = m.keyNode("family"), m["family"] != nil {
                reader.error("'family' is only for fwmark services (an address has its own family); remove it", at: f)
            }
            let address = readAddress(addressNode, "service address")
            let proto = m["protocol"].map { reader.choice($0, "protocol", as: IPVSProtocol.self) } ?? .tcp
            let portNode = reader.required(m, "port", of: "a service with an address")
            let port = portNode.flatMap { reader.integer($0, "port", in: UInt16(0)...UInt16.max) }
            guard let address, let proto, let port else { return nil }
            return (.address(address, port: port, protocol: proto), addressNode)
        case (.none, let markNode?):
            for extra in ["port", "protocol"] {
                if let k = m.keyNode(extra), m[extra] != nil {
                    reader.error("'\(extra)' has no meaning for a fwmark service (the mark selects the packets); "
                                    + "remove it", at: k)
                }
            }
            let mark = reader.integer(markNode, "fwmark", in: UInt32(1)...UInt32.max)
            guard let familyNode = m["family"] else {
                reader.error("a fwmark service needs 'family: ipv4' or 'family: ipv6'", at: markNode)
                return nil
            }
            let family = reader.choice(familyNode, "family", as: AddressFamily.self)
            guard let mark, let family else { return nil }
            return (.firewallMark(mark, family: family), markNode)
        }
    }

    func readPersistence(_ node: YAMLNode, family: AddressFamily) -> IPVSPersistence? {
        guard let m = reader.mapping(node, "'persistence'", keys: IPVSTableFile.persistenceKeys) else { return nil }
        let timeout = m["timeout"].map { reader.integer($0, "persistence timeout (seconds)",
                                                        in: UInt32(1)...IPVSTableFile.maxPersistenceTimeout) }
            ?? defaults.persistenceTimeout
        // The kernel takes any IPv4 netmask but only /1 to /128 for IPv6.
        let range = family == .ipv4 ? 0...32 : 1...128
        let netmask = m["netmask"].map { reader.integer($0, "persistence netmask (a prefix length)", in: range) }
            ?? family.bitWidth
        guard let timeout, let netmask else { return nil }
        return IPVSPersistence(timeout: timeout, netmaskPrefix: netmask)
    }

    func readFlags(_ node: YAMLNode, key: VirtualServiceKey, scheduler: IPVSScheduler) -> IPVSServiceFlags? {
        guard let items = reader.sequence(node, "'flags'") else { return nil }
        var flags: IPVSServiceFlags = []
        var seen: Set<String> = []
        for item in items {
            guard let name = reader.string(item, "a flag") else { continue }
            guard let flag = IPVSServiceFlags(name: name, scheduler: scheduler) else {
                if let owner = IPVSServiceFlags.scheduler(owning: name) {
                    reader.error("flag '\(name)' only applies to scheduler \(owner.rawValue) "
                                    + "(this service uses \(scheduler.rawValue))", at: item)
                } else {
                    let valid = IPVSServiceFlags.names(for: scheduler)
                    reader.error("unknown flag '\(name)'\(Suggestion.hint(for: name, in: valid)) "
                                    + "(valid with \(scheduler.rawValue): \(valid.joined(separator: ", ")))", at: item)
                }
                continue
            }
            guard seen.insert(name).inserted else {
                reader.error("flag '\(name)' is listed twice; keep one", at: item)
                continue
            }
            if flag == .onePacket, case .address(_, _, let proto) = key, proto != .udp {
                reader.error("flag 'one-packet' only applies to UDP services (this one is \(proto.upperName))",
                             at: item)
                continue
            }
            flags.insert(flag)
        }
        return flags
    }

    /// A destination of the service `key` (nil: the service itself is
    /// unreadable; the destination's own keys are still checked).
    func readDestination(_ node: YAMLNode, of key: VirtualServiceKey?) -> IPVSDestination? {
        guard let m = reader.mapping(node, "a destination", keys: IPVSTableFile.destinationKeys,
                                     ignored: IPVSTableFile.destinationStatusKeys) else { return nil }
        let addressNode = reader.required(m, "address", of: "a destination")
        let address = addressNode.flatMap { readAddress($0, "destination address") }
        let forwarding = m["forward"].map { reader.choice($0, "forward method", as: IPVSForwarding.self) }
            ?? defaults.forwarding
        let weight = m["weight"].map { reader.integer($0, "weight", in: Int32(0)...Int32.max) } ?? defaults.weight
        let upper = m["upperThreshold"].map { reader.integer($0, "upperThreshold", in: UInt32(0)...UInt32.max) } ?? 0
        let lower = m["lowerThreshold"].map { reader.integer($0, "lowerThreshold", in: UInt32(0)...UInt32.max) } ?? 0
        if let upper, let lower, lower > upper, let node = m["lowerThreshold"] {
            reader.error("lowerThreshold \(lower) is above upperThreshold \(upper); the kernel requires "
                            + "lower ≤ upper (set upperThreshold, or lower this)", at: node)
        }
        guard let key else { return nil }
        let port = readDestinationPort(m, key: key, forwarding: forwarding)

        if let address, let addressNode, address.family != key.family, forwarding != .tunnel {
            reader.error("destination \(address) is \(address.family == .ipv4 ? "IPv4" : "IPv6") but the service is "
                            + "\(key.family == .ipv4 ? "IPv4" : "IPv6"); only 'forward: tunnel' can cross families",
                         at: addressNode)
            return nil
        }
        guard let address, let forwarding, let weight, let upper, let lower, let port, lower <= upper else {
            return nil
        }
        return IPVSDestination(address: address, port: port, forwarding: forwarding, weight: weight,
                               upperThreshold: upper, lowerThreshold: lower)
    }

    func readDestinationPort(_ m: YAMLMapping, key: VirtualServiceKey, forwarding: IPVSForwarding?) -> UInt16? {
        switch key {
        case .firewallMark:
            // 0: keep the port each packet was sent to.
            return m["port"].map { reader.integer($0, "destination port", in: UInt16(0)...UInt16.max) } ?? 0
        case .address(_, let servicePort, _):
            guard let node = m["port"] else { return servicePort }
            let lowest: UInt16 = servicePort == 0 ? 0 : 1
            guard let port = reader.integer(node, "destination port", in: lowest...UInt16.max) else { return nil }
            if let forwarding, forwarding != .masquerade, port != servicePort {
                reader.error("'forward: \(forwarding.rawValue)' delivers packets to the service's port "
                                + "\(servicePort) unchanged, so port \(port) cannot apply; remove 'port' "
                                + "or set it to \(servicePort)", at: node)
                return nil
            }
            return port
        }
    }
}
