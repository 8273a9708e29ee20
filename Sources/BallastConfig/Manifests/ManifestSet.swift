import BallastCore
import FoundationEssentials

/// The Kubernetes objects of one manifest file: multi-document YAML or JSON,
/// with `kind: List` flattened, as `kubectl get -o yaml` prints them.
///
/// Objects of other kinds (Deployments and the like) are ignored; a known kind
/// with a bad field is an error, and one bad object rejects the whole file (so
/// the daemon keeps that file's last good version rather than half of it).
/// Fields Ballast does not use (managedFields, status of other kinds, ...) are
/// ignored.
public struct ManifestSet: Sendable, Hashable {
    public var services: [Service] = []
    /// discovery.k8s.io/v1 EndpointSlices.
    public var endpointSlices: [EndpointSlice] = []
    /// Legacy v1 Endpoints, converted to slices. Kept apart because a cluster
    /// mirrors Endpoints into slices itself, so a dump of a cluster holds both;
    /// `snapshot(of:)` uses these only for Services that have no real slice.
    public var legacyEndpointSlices: [EndpointSlice] = []
    public var nodes: [Node] = []
    public var namespaces: [Namespace] = []
    /// Warnings and notes (dropped FQDN slices, documents that are not objects, ...).
    public var diagnostics: [Diagnostic] = []

    public init(services: [Service] = [], endpointSlices: [EndpointSlice] = [], legacyEndpointSlices: [EndpointSlice] = [],
                nodes: [Node] = [], namespaces: [Namespace] = [], diagnostics: [Diagnostic] = []) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.legacyEndpointSlices = legacyEndpointSlices
        self.nodes = nodes
        self.namespaces = namespaces
        self.diagnostics = diagnostics
    }

    /// Decodes the text of one file; `file` names it in messages and locations.
    /// A large file of many documents is read and decoded in parts on all cores.
    public static func decode(yaml: String, file: String) throws(Diagnostics) -> ManifestSet {
        let parts: [Part]
        if yaml.utf8.count >= partSize * 2,
           let documents = FastYAML.parseInParts(yaml, file: file, parts: 4 * ProcessInfo.processInfo.activeProcessorCount,
                                                 minimumPart: partSize) {
            parts = concurrentMap(documents) { Part($0) }
        } else {
            parts = [Part(try YAMLDocuments.parse(yaml, file: file))]
        }
        // The findings in the order one pass over the whole file makes them:
        // first while finding the objects, then while decoding them.
        let sink = DiagnosticSink()
        var set = ManifestSet()
        for part in parts {
            sink.append(part.objectFindings)
            set.services += part.set.services
            set.endpointSlices += part.set.endpointSlices
            set.legacyEndpointSlices += part.set.legacyEndpointSlices
            set.nodes += part.set.nodes
            set.namespaces += part.set.namespaces
        }
        for part in parts { sink.append(part.fieldFindings) }
        set.checkDuplicates(sink)
        set.diagnostics = sink.warnings
        return try sink.result(set)
    }

    /// Below twice this many bytes a file is decoded in one piece.
    private static let partSize = 256 * 1024

    /// What some of the documents of a file decode to, before the checks that need all of them.
    private struct Part: Sendable {
        var set = ManifestSet()
        var objectFindings: [Diagnostic] = []
        var fieldFindings: [Diagnostic] = []

        init(_ documents: [YAMLNode]) {
            let sink = DiagnosticSink()
            let objects = KubernetesObject.objects(in: documents, sink: sink) { m in
                m.value.warning("not a Kubernetes object (no apiVersion and kind); ignored")
            }
            let objectFindingCount = sink.all.count
            for object in objects {
                switch (object.apiVersion, object.kind) {
                case ("v1", "Service"):
                    ManifestDecoding.service(object).map { set.services.append($0) }
                case ("discovery.k8s.io/v1", "EndpointSlice"):
                    ManifestDecoding.endpointSlice(object).map { set.endpointSlices.append($0) }
                case ("v1", "Endpoints"):
                    set.legacyEndpointSlices += ManifestDecoding.endpoints(object) ?? []
                case ("v1", "Node"):
                    ManifestDecoding.node(object).map { set.nodes.append($0) }
                case ("v1", "Namespace"):
                    ManifestDecoding.namespace(object).map { set.namespaces.append($0) }
                case ("discovery.k8s.io/v1beta1", "EndpointSlice"):
                    object.fields.value.warning("discovery.k8s.io/v1beta1 EndpointSlice is no longer served by Kubernetes "
                                                + "(since 1.25); ignored", hint: "use apiVersion: discovery.k8s.io/v1")
                default:
                    continue
                }
            }
            objectFindings = Array(sink.all[..<objectFindingCount])
            fieldFindings = Array(sink.all[objectFindingCount...])
        }
    }

    /// Reads and decodes one file.
    public static func load(path: String) throws(Diagnostics) -> ManifestSet {
        try load(path: path, fileSystem: .local)
    }

    static func load(path: String, fileSystem: FileSystem) throws(Diagnostics) -> ManifestSet {
        switch fileSystem.read(path) {
        case .success(let text): return try decode(yaml: text, file: path)
        case .failure(let problem): throw Diagnostics([Diagnostic(.error, "\(path) \(problem.reason)", at: nil)])
        }
    }

    /// One object twice in a file is a mistake (kubectl apply would keep the last one silently).
    private func checkDuplicates(_ sink: DiagnosticSink) {
        // Names are spelled out only for a repeat: nearly every file has none.
        func check<Item, Key: Hashable>(_ kind: String, _ items: [Item], key: (Item) -> Key, name: (Item) -> String,
                                        location: (Item) -> SourceLocation?) {
            guard items.count > 1 else { return }
            var first: [Key: SourceLocation?] = [:]
            for item in items {
                if let earlier = first[key(item)] {
                    sink.error("\(kind) \(name(item)) is defined twice in this file", at: location(item),
                               hint: earlier.map { "the first definition is at \($0); keep one" })
                } else {
                    first[key(item)] = location(item)
                }
            }
        }
        check("Service", services, key: \.ref, name: \.ref.description, location: \.location)
        check("EndpointSlice", endpointSlices, key: \.ref, name: \.ref.description, location: \.location)
        check("Endpoints", legacyEndpointSlices, key: \.ref, name: \.ref.description, location: \.location)
        check("Node", nodes, key: \.name, name: \.name, location: { _ in nil })
        check("Namespace", namespaces, key: \.name, name: \.name, location: { _ in nil })
    }

    /// Everything the files say together: the input of allocation and planning.
    ///
    /// Files are merged in path order; an object defined in two files is taken
    /// from the first, with a warning. Slices converted from legacy Endpoints
    /// count only for Services that no EndpointSlice names, as in a cluster
    /// where the mirroring controller made slices from those Endpoints.
    public static func snapshot(of files: [String: ManifestSet]) -> (snapshot: ClusterSnapshot, diagnostics: [Diagnostic]) {
        var snapshot = ClusterSnapshot()
        var claims = Claims()
        var legacy: [EndpointSlice] = []
        for (file, set) in files.sorted(by: { $0.key < $1.key }) {
            for s in set.services where claims.claim("Service \(s.ref)", file, s.location) {
                snapshot.services[s.ref] = s
            }
            for s in set.endpointSlices where claims.claim("EndpointSlice \(s.ref)", file, s.location) {
                snapshot.endpointSlices[s.ref] = s
            }
            for n in set.nodes where claims.claim("Node \(n.name)", file, nil) {
                snapshot.nodes[n.name] = n
            }
            for n in set.namespaces where claims.claim("Namespace \(n.name)", file, nil) {
                snapshot.namespaces[n.name] = n
            }
            legacy += set.legacyEndpointSlices
        }
        var diagnostics = claims.diagnostics
        mergeLegacyEndpoints(legacy, into: &snapshot, diagnostics: &diagnostics)
        return (snapshot, diagnostics)
    }

    /// Adds the slices converted from legacy Endpoints (every file's, in path
    /// order) to the merge of all the files' other objects, for the Services
    /// that no EndpointSlice names. Apart from `snapshot(of:)` for
    /// ManifestMerge, which keeps the rest of the merge patched file by file.
    static func mergeLegacyEndpoints(_ legacy: [EndpointSlice], into snapshot: inout ClusterSnapshot,
                                     diagnostics: inout [Diagnostic]) {
        guard !legacy.isEmpty else { return }
        let served = Set(snapshot.endpointSlices.values.map(\.serviceRef))
        // Claimed on their own: "Endpoints x" never clashes with the other kinds' names.
        var claims = Claims()
        for slice in legacy where !served.contains(slice.serviceRef)
            && claims.claim("Endpoints \(slice.ref)", slice.location?.file ?? "", slice.location) {
            snapshot.endpointSlices[slice.ref] = slice
        }
        diagnostics += claims.diagnostics
    }

    /// The file that defined each object first; a later definition is reported and dropped.
    private struct Claims {
        private var firstFile: [String: String] = [:]
        private(set) var diagnostics: [Diagnostic] = []

        /// Whether `id` is seen for the first time.
        mutating func claim(_ id: String, _ file: String, _ location: SourceLocation?) -> Bool {
            guard let earlier = firstFile[id] else {
                firstFile[id] = file
                return true
            }
            diagnostics.append(Diagnostic(.warning, "\(id) is defined in \(earlier) and in \(file); "
                                          + "the one in \(file) is ignored", at: location, hint: "keep one definition"))
            return false
        }
    }
}
