import BallastCore

/// A configuration that passed validation, with what was noticed on the way.
public struct LoadedConfiguration: Sendable, Hashable {
    public var configuration: Configuration
    /// Warnings and notes (never errors: with an error there is no configuration).
    public var diagnostics: [Diagnostic]
    /// Every file read, the configuration first, then MetalLB files: watch
    /// these to reload on change.
    public var files: [String]

    public init(configuration: Configuration, diagnostics: [Diagnostic] = [], files: [String] = []) {
        self.configuration = configuration
        self.diagnostics = diagnostics
        self.files = files
    }
}

/// Ballast's configuration file (`/etc/ballast/ballast.yaml`), described in
/// docs/configuration.md.
///
/// A file of MetalLB resources (IPAddressPool and L2Advertisement objects, or
/// MetalLB's legacy ConfigMap) is accepted in its place: its pools, with every
/// other setting at its default. A ballast.yaml can also pull MetalLB files in
/// with `metallb: [paths]`.
public enum ConfigurationFile {
    public static let defaultPath = "/etc/ballast/ballast.yaml"

    /// Reads, decodes and validates the file at `path` and the files it names.
    public static func load(path: String) throws(Diagnostics) -> LoadedConfiguration {
        try load(path: path, fileSystem: .local)
    }

    /// Decodes and validates `yaml`, read from `file` (used in messages and to
    /// resolve relative paths in it).
    public static func decode(yaml: String, file: String) throws(Diagnostics) -> LoadedConfiguration {
        try decode(yaml: yaml, file: file, fileSystem: .local)
    }

    static func load(path: String, fileSystem: FileSystem) throws(Diagnostics) -> LoadedConfiguration {
        switch fileSystem.read(path) {
        case .success(let text):
            return try decode(yaml: text, file: path, fileSystem: fileSystem)
        case .failure(let problem):
            throw Diagnostics([Diagnostic(.error, "configuration file \(path) \(problem.reason)", at: nil,
                                          hint: "docs/configuration.md describes the file; configs/ballast.yaml is an example")])
        }
    }

    static func decode(yaml: String, file: String, fileSystem: FileSystem) throws(Diagnostics) -> LoadedConfiguration {
        let documents = try YAMLDocuments.parse(yaml, file: file)
        let sink = DiagnosticSink()
        guard let first = documents.first else {
            let start = SourceLocation(file: file, line: 1, column: 1)
            throw Diagnostics([Diagnostic(.error, "the configuration is empty", at: start,
                                          hint: "at least one address pool is needed, e.g.\n"
                                              + "    pools:\n      - name: default\n        addresses: [192.0.2.0/24]")])
        }
        var decoder = ConfigurationDecoder(file: file, fileSystem: fileSystem, sink: sink)
        let configuration: Configuration?
        if MetalLBResources.isMetalLB(first) {
            sink.note("\(file) holds MetalLB resources: using their pools, and defaults for every other setting",
                      at: nil)
            configuration = decoder.metalLBOnly(documents, source: yaml)
        } else {
            if documents.count > 1 {
                sink.error("the configuration is one YAML document, but this file holds \(documents.count)",
                           at: documents[1].location, hint: "remove the \"---\" separators, or move MetalLB resources "
                               + "to their own file and list it under metallb:")
            }
            configuration = decoder.decode(Value(node: first, path: "", sink: sink))
        }
        let result = try sink.result(configuration)
        guard let result else { throw Diagnostics(sink.inFileOrder) }
        return LoadedConfiguration(configuration: result, diagnostics: sink.warnings, files: decoder.files)
    }
}

/// Decodes ballast.yaml's keys into a Configuration (see docs/configuration.md).
struct ConfigurationDecoder {
    let file: String
    let fileSystem: FileSystem
    let sink: DiagnosticSink
    private(set) var files: [String]

    init(file: String, fileSystem: FileSystem, sink: DiagnosticSink) {
        self.file = file
        self.fileSystem = fileSystem
        self.sink = sink
        files = [file]
        sink.fileOrder.append(file)
    }

    static let keys = ["pools", "metallb", "announce", "ipvs", "source", "nodeName", "vipInterface", "stateDirectory",
                       "statusSocket", "metricsAddress", "loadBalancerClass", "handleUnclassedServices"]
    static let announceKeys = ["burstCount", "burstInterval", "refreshInterval"]
    static let ipvsKeys = ["scheduler", "drainTimeout", "resyncInterval"]
    static let sourceKeys = ["files", "kubernetes"]

    mutating func decode(_ root: Value) -> Configuration? {
        guard let m = root.mapping(keys: Self.keys, unknownKeys: .error) else { return nil }
        let defaults = Configuration()
        var config = defaults
        var pools = m["pools"]?.list()?.compactMap(PoolDecoding.ballastPool) ?? []
        var metalLB = MetalLBResources()
        for entry in m["metallb"]?.list() ?? [] {
            readMetalLB(entry, into: &metalLB)
        }
        pools += metalLB.resolvedPools(sink: sink)

        if let announce = m["announce"]?.mapping(keys: Self.announceKeys, unknownKeys: .error) {
            config.announce.burstCount = announce["burstCount"]?.int(in: 1...100) ?? defaults.announce.burstCount
            config.announce.burstInterval = announce["burstInterval"]?.duration() ?? defaults.announce.burstInterval
            // 0 or null turns the periodic refresh off.
            let refresh = announce["refreshInterval"]?.duration(allowZero: true)
            config.announce.refreshInterval = refresh == .zero ? nil : refresh
        }
        if let ipvs = m["ipvs"]?.mapping(keys: Self.ipvsKeys, unknownKeys: .error) {
            config.ipvs.scheduler = ipvs["scheduler"]?.choice(IPVSScheduler.self) ?? defaults.ipvs.scheduler
            config.ipvs.drainTimeout = ipvs["drainTimeout"]?.duration(allowZero: true) ?? defaults.ipvs.drainTimeout
            config.ipvs.resyncInterval = ipvs["resyncInterval"]?.duration() ?? defaults.ipvs.resyncInterval
        }
        if let source = m["source"] { config.source = serviceSource(source) ?? defaults.source }
        config.nodeName = m["nodeName"]?.name()
        config.vipInterface = m["vipInterface"].flatMap(PoolDecoding.interfaceName) ?? defaults.vipInterface
        config.stateDirectory = m["stateDirectory"].flatMap { absolutePath($0) } ?? defaults.stateDirectory
        config.statusSocket = m["statusSocket"].flatMap { absolutePath($0, socket: true) } ?? defaults.statusSocket
        if let metrics = m.raw("metricsAddress") {
            // null turns the metrics endpoint off.
            config.metricsAddress = metrics.isNull ? nil : listenAddress(metrics)
        }
        config.loadBalancerClass = m["loadBalancerClass"].flatMap(loadBalancerClass) ?? defaults.loadBalancerClass
        config.handleUnclassedServices = m["handleUnclassedServices"]?.bool() ?? defaults.handleUnclassedServices

        if pools.isEmpty && !sink.hasErrors {
            m.value.error("no address pools are defined",
                          hint: "add one under pools: (e.g. - name: default, addresses: [192.0.2.0/24]) "
                              + "or list MetalLB files under metallb:")
        }
        PoolValidation.validate(pools, sink: sink)
        config.pools = pools.map(\.pool)
        return config
    }

    /// A file of MetalLB resources given on its own.
    mutating func metalLBOnly(_ documents: [YAMLNode], source: String) -> Configuration? {
        var metalLB = MetalLBResources()
        metalLB.read(documents, source: source, sink: sink)
        let pools = metalLB.resolvedPools(sink: sink)
        if pools.isEmpty && !sink.hasErrors {
            sink.error("no address pools are defined", at: documents[0].location,
                       hint: "MetalLB pools are IPAddressPool objects, or address-pools in the legacy ConfigMap")
        }
        PoolValidation.validate(pools, sink: sink)
        return Configuration(pools: pools.map(\.pool))
    }

    /// One `metallb:` entry: a file, or a directory of .yaml/.yml/.json files.
    private mutating func readMetalLB(_ entry: Value, into resources: inout MetalLBResources) {
        guard let given = entry.name() else { return }
        let path = FileSystem.resolve(given, relativeTo: file)
        var paths = [path]
        switch fileSystem.entry(path) {
        case .missing:
            entry.error("\(path): no such file or directory")
            return
        case .directory:
            switch fileSystem.list(path) {
            case .failure(let problem):
                entry.error("\(path) \(problem.reason)")
                return
            case .success(let names):
                paths = ManifestDirectory.manifestNames(names).map { path.hasSuffix("/") ? path + $0 : "\(path)/\($0)" }
                if paths.isEmpty { entry.warning("\(path) holds no .yaml, .yml or .json file") }
            }
        case .file:
            break
        }
        for path in paths {
            switch fileSystem.read(path) {
            case .failure(let problem):
                entry.error("\(path) \(problem.reason)")
            case .success(let text):
                files.append(path)
                sink.fileOrder.append(path)
                do throws(Diagnostics) {
                    resources.read(try YAMLDocuments.parse(text, file: path), source: text, sink: sink)
                } catch {
                    sink.append(error.all)
                }
            }
        }
    }

    private func serviceSource(_ value: Value) -> ServiceSource? {
        guard let m = value.mapping(keys: Self.sourceKeys, unknownKeys: .error) else { return nil }
        let hint = "use either files: {directory: PATH} or kubernetes: {kubeconfig: PATH}"
        switch (m.raw("files"), m.raw("kubernetes")) {
        case (let files?, nil):
            guard let f = files.mapping(keys: ["directory"], unknownKeys: .error),
                  let directory = f.required("directory")?.name() else { return nil }
            return .files(directory: FileSystem.resolve(directory, relativeTo: file))
        case (nil, let kubernetes?):
            // No kubeconfig (or kubernetes: {} / null): the in-cluster service account.
            guard let k = kubernetes.mapping(keys: ["kubeconfig"], unknownKeys: .error) else { return nil }
            return .kubernetes(kubeconfig: k["kubeconfig"]?.name().map { FileSystem.resolve($0, relativeTo: file) })
        case (_?, _?):
            value.error("names both files and kubernetes; Ballast reads Services from one source", hint: hint)
            return nil
        case (nil, nil):
            value.error("names no source of Services", hint: hint)
            return nil
        }
    }

    private func absolutePath(_ value: Value, socket: Bool = false) -> String? {
        guard let path = value.name() else { return nil }
        guard path.hasPrefix("/") else {
            value.error("\"\(path)\" is not an absolute path", hint: "the daemon's working directory is not fixed; start with /")
            return nil
        }
        // sockaddr_un.sun_path holds 108 bytes including the terminating NUL.
        if socket && path.utf8.count > 107 {
            value.error("\"\(path)\" is longer than 107 bytes, the limit of a Unix socket path")
            return nil
        }
        return path
    }

    /// host:port, [IPv6]:port or :port (every address).
    private func listenAddress(_ value: Value) -> String? {
        guard let text = value.name() else { return nil }
        let hint = "write host:port, e.g. 127.0.0.1:9734, [::1]:9734 or :9734 for every address (null turns metrics off)"
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else {
            value.error("\"\(text)\" is not host:port", hint: hint)
            return nil
        }
        let host = text[..<colon]
        let hostIsValid: Bool = if host.hasPrefix("[") && host.hasSuffix("]") {
            IPv6Address(host.dropFirst().dropLast()) != nil
        } else if host.contains(":") {
            false
        } else {
            host.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
        }
        guard hostIsValid else {
            value.error("\"\(host)\" in \"\(text)\" is not a host name or address",
                        hint: host.contains(":") ? "put an IPv6 address in brackets: [\(host)]:\(port)" : hint)
            return nil
        }
        return text
    }

    /// Kubernetes requires a label-style key with a domain prefix ("example.com/name").
    private func loadBalancerClass(_ value: Value) -> String? {
        guard let text = value.name() else { return nil }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, Validation.dnsSubdomainProblem(String(parts[0])) == nil, !parts[1].isEmpty,
              parts[1].count <= 63 else {
            value.error("\"\(text)\" is not a valid loadBalancerClass",
                        hint: "Kubernetes requires a domain-prefixed name such as \(Configuration.defaultLoadBalancerClass)")
            return nil
        }
        return text
    }
}
