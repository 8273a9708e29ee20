// The IPVS table file read by `ballastctl ipvs apply`: a declarative list of
// virtual services with their destinations, in YAML or JSON. The format is
// documented in docs/ipvs-table.md; keep the two in step.
//
// Parsing is all-or-nothing: the whole file is checked and every problem is
// reported with FILE:LINE:COLUMN through the decoding layer the configuration
// file uses (Decoding/); a file with any problem yields no table, so nothing
// of it is ever applied.

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
    /// `stats` and `connections` are read-only keys that `ballastctl ipvs show
    /// --json` writes; they are allowed and ignored, so that its output is
    /// itself a valid table file.
    static let serviceKeys = ["address", "port", "protocol", "fwmark", "family", "scheduler", "flags",
                              "persistence", "destinations", "stats"]
    static let persistenceKeys = ["timeout", "netmask"]
    static let destinationKeys = ["address", "port", "weight", "forward", "upperThreshold", "lowerThreshold",
                                  "connections", "stats"]

    /// Longest persistence ipvsadm accepts (31 days).
    static let maxPersistenceTimeout = 2_678_400

    public static let formatHint = "docs/ipvs-table.md describes the table file"

    /// Reads and checks the file at `path`.
    public static func load(path: String, defaults: IPVSTableDefaults = IPVSTableDefaults()) throws(Diagnostics) -> IPVSTable {
        try load(path: path, defaults: defaults, fileSystem: .local)
    }

    static func load(path: String, defaults: IPVSTableDefaults, fileSystem: FileSystem) throws(Diagnostics) -> IPVSTable {
        switch fileSystem.read(path) {
        case .success(let text):
            return try parse(text, file: path, defaults: defaults)
        case .failure(let problem):
            throw Diagnostics([Diagnostic(.error, "table file \(path) \(problem.reason)", at: nil, hint: formatHint)])
        }
    }

    /// Checks `text`, named `file` in diagnostics.
    public static func parse(_ text: String, file: String,
                             defaults: IPVSTableDefaults = IPVSTableDefaults()) throws(Diagnostics) -> IPVSTable {
        let documents = try YAMLDocuments.parse(text, file: file)
        guard let root = documents.first else {
            throw Diagnostics([Diagnostic(.error, "the table file is empty", at: SourceLocation(file: file, line: 1, column: 1),
                                          hint: "it needs a services list, e.g.\n    services:\n"
                                              + "      - {address: 192.0.2.10, port: 80, destinations: [{address: 10.0.0.5}]}")])
        }
        let sink = DiagnosticSink()
        if documents.count > 1 {
            sink.error("a table file is one YAML document, but this file holds \(documents.count)",
                       at: documents[1].location, hint: "remove the \"---\" separators")
        }
        let table = TableDecoder(defaults: defaults).table(Value(node: root, path: "", sink: sink))
        guard let table = try sink.result(table) else { throw Diagnostics(sink.inFileOrder) }
        return table
    }
}

/// Decodes the keys of a table file. Every method reports its own problems
/// and returns nil for a part it could not read; decoding goes on, so that all
/// problems are reported at once.
private struct TableDecoder {
    let defaults: IPVSTableDefaults

    func table(_ root: Value) -> IPVSTable? {
        guard let m = root.mapping(keys: IPVSTableFile.rootKeys, unknownKeys: .error) else { return nil }
        let ownership = m["owns"].flatMap(owns)
        guard let items = m.required("services", hint: IPVSTableFile.formatHint)?.list() else { return nil }

        var services: [IPVSVirtualService] = []
        var firstLine: [VirtualServiceKey: Int] = [:]
        for item in items {
            guard let (service, keyValue) = service(item).map({ ($0.0, $0.1) }) else { continue }
            if let line = firstLine[service.key] {
                keyValue.error("duplicate service \(service.key)",
                               hint: "it is first defined at line \(line); merge the two entries")
                continue
            }
            firstLine[service.key] = keyValue.location.line
            if let ownership, !ownership.owns(service.key) {
                keyValue.error("\(service.key) is outside owns (\(ownership))",
                               hint: "extend owns, or remove the service")
            }
            services.append(service)
        }
        return IPVSTable(services: services, declaredOwnership: ownership)
    }

    func owns(_ value: Value) -> IPVSOwnership? {
        guard let m = value.mapping(keys: IPVSTableFile.ownsKeys, unknownKeys: .error) else { return nil }
        let prefixes = m["addresses"].map { $0.list { item -> CIDR? in
            guard let text = item.string() else { return nil }
            do throws(CIDR.ParseError) {
                return try CIDR(parsing: text)
            } catch {
                item.error(error.description, hint: "write a prefix such as 192.0.2.0/24, or a single address")
                return nil
            }
        } }
        let marks = m["fwmarks"].map { $0.list { $0.int(in: 1...Int(UInt32.max)).map(UInt32.init) } }
        guard let prefixes = prefixes ?? [], let marks = marks ?? [] else { return nil }
        return IPVSOwnership(prefixes: prefixes, firewallMarks: Set(marks))
    }

    func address(_ value: Value) -> IPAddress? {
        guard let text = value.string() else { return nil }
        guard let a = IPAddress(text) else {
            value.error("\"\(text)\" is not an IPv4 or IPv6 address", hint: "names are not resolved; write the address")
            return nil
        }
        return a
    }

    /// A service and the value that names it (its address or fwmark).
    func service(_ value: Value) -> (IPVSVirtualService, Value)? {
        guard let m = value.mapping(keys: IPVSTableFile.serviceKeys, unknownKeys: .error) else { return nil }
        let scheduler = m["scheduler"].map { $0.choice(IPVSScheduler.self) } ?? defaults.scheduler
        guard let (key, keyValue) = serviceKey(m).map({ ($0.0, $0.1) }) else {
            // Still check the destinations' own keys, to report everything at once.
            _ = m["destinations"]?.list { destination($0, of: nil) }
            return nil
        }
        let persistence = m["persistence"].map { self.persistence($0, family: key.family) }
        if case .address(_, 0, _) = key, m["persistence"] == nil, let port = m["port"] {
            port.error("0 (every port) needs persistence",
                       hint: "add persistence: {} or use a port from 1 to 65535; the kernel only accepts "
                           + "port 0 for persistent services")
        }
        let flags = m["flags"].map { self.flags($0, key: key, scheduler: scheduler ?? defaults.scheduler) } ?? []

        var destinations: [IPVSDestination] = []
        var firstLine: [IPVSEndpoint: Int] = [:]
        for item in m["destinations"]?.list() ?? [] {
            guard let d = destination(item, of: key) else { continue }
            if let line = firstLine[d.endpoint] {
                item.error("duplicate destination \(d.endpoint) of \(key)",
                           hint: "it is first defined at line \(line); keep one")
                continue
            }
            firstLine[d.endpoint] = item.location.line
            destinations.append(d)
        }
        guard let scheduler, let persistence = persistence ?? .some(nil), let flags else { return nil }
        return (IPVSVirtualService(key: key, scheduler: scheduler, flags: flags, persistence: persistence,
                                   destinations: destinations), keyValue)
    }

    func serviceKey(_ m: MappingReader) -> (VirtualServiceKey, Value)? {
        switch (m["address"], m["fwmark"]) {
        case (.some, .some(let mark)):
            mark.error("a service has either address or fwmark, not both")
            return nil
        case (.none, .none):
            m.value.error("a service needs address (with port and protocol) or fwmark (with family)",
                          hint: IPVSTableFile.formatHint)
            // The rest of the key is still checked, to report everything at once.
            _ = m["port"]?.int(in: 0...65535)
            _ = m["protocol"]?.choice(IPVSProtocol.self)
            return nil
        case (let addressValue?, .none):
            m["family"]?.error("only applies to fwmark services",
                               hint: "remove it; an address has its own family")
            let address = address(addressValue)
            let proto = m["protocol"].map { $0.choice(IPVSProtocol.self) } ?? .tcp
            let port = m.required("port", hint: "a service with an address needs a port (0 to 65535)")?
                .int(in: 0...65535).map(UInt16.init)
            guard let address, let proto, let port else { return nil }
            return (.address(address, port: port, protocol: proto), addressValue)
        case (.none, let markValue?):
            for extra in ["port", "protocol"] {
                m[extra]?.error("has no meaning for a fwmark service",
                                hint: "remove it; the firewall mark selects the packets")
            }
            let mark = markValue.int(in: 1...Int(UInt32.max)).map(UInt32.init)
            let family = m.required("family", hint: "a fwmark service needs family: ipv4 or family: ipv6")?
                .choice(AddressFamily.self)
            guard let mark, let family else { return nil }
            return (.firewallMark(mark, family: family), markValue)
        }
    }

    /// nil: reported; .some(nil) never (a persistence mapping always persists).
    func persistence(_ value: Value, family: AddressFamily) -> IPVSPersistence? {
        guard let m = value.mapping(keys: IPVSTableFile.persistenceKeys, unknownKeys: .error) else { return nil }
        let timeout = m["timeout"].map { $0.int(in: 1...IPVSTableFile.maxPersistenceTimeout) }
            ?? Int(defaults.persistenceTimeout)
        // The kernel takes any IPv4 netmask but only /1 to /128 for IPv6.
        let netmask = m["netmask"].map { $0.int(in: family == .ipv4 ? 0...32 : 1...128) } ?? family.bitWidth
        guard let timeout, let netmask else { return nil }
        return IPVSPersistence(timeout: UInt32(timeout), netmaskPrefix: netmask)
    }

    func flags(_ value: Value, key: VirtualServiceKey, scheduler: IPVSScheduler) -> IPVSServiceFlags? {
        guard let items = value.list() else { return nil }
        var flags: IPVSServiceFlags = []
        var seen: Set<String> = []
        var ok = true
        for item in items {
            guard let name = item.string() else { ok = false; continue }
            guard let flag = IPVSServiceFlags(name: name, scheduler: scheduler) else {
                if let owner = IPVSServiceFlags.scheduler(owning: name) {
                    item.error("flag \"\(name)\" only applies to scheduler \(owner.rawValue)",
                               hint: "this service uses \(scheduler.rawValue)")
                } else {
                    item.error("\"\(name)\" is not a flag",
                               hint: Suggestion.hint(for: name, in: IPVSServiceFlags.names(for: scheduler),
                                                     noun: "flags of scheduler \(scheduler.rawValue)"))
                }
                ok = false
                continue
            }
            if !seen.insert(name).inserted {
                item.error("flag \"\(name)\" is listed twice", hint: "keep one")
                ok = false
            }
            if flag == .onePacket, case .address(_, _, let proto) = key, proto != .udp {
                item.error("one-packet only applies to UDP services", hint: "this one is \(proto.upperName)")
                ok = false
            }
            flags.insert(flag)
        }
        return ok ? flags : nil
    }

    /// A destination of the service `key` (nil: the service itself is
    /// unreadable; the destination's own keys are still checked).
    func destination(_ value: Value, of key: VirtualServiceKey?) -> IPVSDestination? {
        guard let m = value.mapping(keys: IPVSTableFile.destinationKeys, unknownKeys: .error) else { return nil }
        let addressValue = m.required("address", hint: "the real server's IPv4 or IPv6 address")
        let address = addressValue.flatMap(address)
        let forwarding = m["forward"].map { $0.choice(IPVSForwarding.self) } ?? defaults.forwarding
        let weight = m["weight"].map { $0.int(in: 0...Int(Int32.max)).map(Int32.init) } ?? defaults.weight
        let upper = m["upperThreshold"].map { $0.int(in: 0...Int(UInt32.max)).map(UInt32.init) } ?? 0
        let lower = m["lowerThreshold"].map { $0.int(in: 0...Int(UInt32.max)).map(UInt32.init) } ?? 0
        if let upper, let lower, lower > upper, let lowerValue = m["lowerThreshold"] {
            lowerValue.error("\(lower) is above upperThreshold \(upper)",
                             hint: "the kernel requires lower ≤ upper (0 means no limit only for upperThreshold); "
                                 + "raise upperThreshold or lower this")
        }
        guard let key else { return nil }
        let port = port(m, key: key, forwarding: forwarding)
        if let address, let addressValue, address.family != key.family, forwarding != .tunnel {
            addressValue.error("\(address) is \(Self.name(address.family)) but the service is \(Self.name(key.family))",
                               hint: "only forward: tunnel can reach a destination of the other family")
            return nil
        }
        guard let address, let forwarding, let weight, let upper, let lower, let port, lower <= upper else {
            return nil
        }
        return IPVSDestination(address: address, port: port, forwarding: forwarding, weight: weight,
                               upperThreshold: upper, lowerThreshold: lower)
    }

    func port(_ m: MappingReader, key: VirtualServiceKey, forwarding: IPVSForwarding?) -> UInt16? {
        switch key {
        case .firewallMark:
            // 0: keep the port each packet was sent to.
            return m["port"].map { $0.int(in: 0...65535).map(UInt16.init) } ?? 0
        case .address(_, let servicePort, _):
            guard let value = m["port"] else { return servicePort }
            guard let port = value.int(in: (servicePort == 0 ? 0 : 1)...65535).map(UInt16.init) else { return nil }
            if let forwarding, forwarding != .masquerade, port != servicePort {
                value.error("forward: \(forwarding.rawValue) delivers packets to the service port \(servicePort) "
                                + "unchanged, so port \(port) cannot apply",
                            hint: "remove port, or set it to \(servicePort)")
                return nil
            }
            return port
        }
    }

    static func name(_ family: AddressFamily) -> String { family == .ipv4 ? "IPv4" : "IPv6" }
}
