import BallastCore

/// One object of a manifest: its type and its fields.
struct KubernetesObject {
    var apiVersion: String
    var kind: String
    var fields: MappingReader

    var location: SourceLocation { fields.location }

    /// "Service default/web", for messages.
    func subject(_ meta: ObjectMeta?, namespaced: Bool = true) -> String {
        guard let meta else { return kind }
        return namespaced ? "\(kind) \(meta.ref)" : "\(kind) \(meta.name)"
    }

    /// The objects of a file's documents, with `kind: List` (and ServiceList and
    /// the like, as `kubectl get -o yaml` and the API print them) flattened into
    /// their items. Documents that are not objects go to `other`.
    static func objects(in documents: [YAMLNode], sink: DiagnosticSink,
                        other: (MappingReader) -> Void) -> [KubernetesObject] {
        var result: [KubernetesObject] = []
        func visit(_ value: Value) {
            guard let m = value.mapping() else { return }
            guard let kind = m["kind"]?.string(), let apiVersion = m["apiVersion"]?.string() else {
                if m["kind"] == nil && m["apiVersion"] == nil { other(m) }
                else { value.error("an object needs both apiVersion and kind") }
                return
            }
            if kind.hasSuffix("List"), let items = m.raw("items") {
                // Items are objects of their own: messages name them, not "items[3]".
                items.list()?.forEach { visit(Value(node: $0.node, path: "", sink: sink)) }
            } else {
                result.append(KubernetesObject(apiVersion: apiVersion, kind: kind, fields: m))
            }
        }
        for document in documents { visit(Value(node: document, path: "", sink: sink)) }
        return result
    }
}
