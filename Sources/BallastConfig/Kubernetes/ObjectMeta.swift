import BallastCore

/// The parts of metav1.ObjectMeta that Ballast uses.
struct ObjectMeta {
    var name: String
    /// "default" when the manifest leaves it out, as kubectl assumes.
    var namespace: String
    var labels: [String: String]
    /// Only Ballast's and MetalLB's (`ServiceAnnotations.isKnown`): no other is read.
    var annotations: [String: String]
    var nameLocation: SourceLocation

    var ref: ObjectRef { ObjectRef(namespace: namespace, name: name) }
}

extension MappingReader {
    /// `metadata` of a Kubernetes object; nil (after reporting why) without a name.
    func objectMeta() -> ObjectMeta? {
        value.sink.clean {
            guard let meta = required("metadata")?.mapping(), let nameValue = meta.required("name"),
                  let name = nameValue.name() else { return nil }
            return ObjectMeta(name: name, namespace: meta["namespace"]?.name() ?? "default",
                              labels: meta["labels"]?.stringMap() ?? [:],
                              annotations: meta["annotations"]?.stringMap(keepingKeys: ServiceAnnotations.isKnown) ?? [:],
                              nameLocation: nameValue.location)
        }
    }
}

extension Value {
    /// A metav1.LabelSelector: `matchLabels` and `matchExpressions`, with the
    /// API server's rules (In/NotIn need values, Exists/DoesNotExist take none).
    func labelSelector(unknownKeys: MappingReader.UnknownKeys) -> LabelSelector? {
        sink.clean {
            guard let m = mapping(keys: ["matchLabels", "matchExpressions"], unknownKeys: unknownKeys) else { return nil }
            let expressions = m["matchExpressions"]?.list { $0.labelRequirement(unknownKeys: unknownKeys) }
            return LabelSelector(matchLabels: m["matchLabels"]?.stringMap() ?? [:], matchExpressions: expressions ?? [])
        }
    }

    private func labelRequirement(unknownKeys: MappingReader.UnknownKeys) -> LabelSelector.Requirement? {
        guard let m = mapping(keys: ["key", "operator", "values"], unknownKeys: unknownKeys) else { return nil }
        let key = m.required("key")?.name()
        let op = m.required("operator")?.choice(LabelSelector.Operator.self)
        let values = m["values"]?.stringList()
        guard let key, let op, m["values"] == nil || values != nil else { return nil }
        let given = values ?? []
        let needsValues = op == .in || op == .notIn
        if needsValues && given.isEmpty {
            error("operator \(op.rawValue) needs at least one value", hint: "add values: [...] or use Exists")
            return nil
        }
        if !needsValues && !given.isEmpty {
            error("operator \(op.rawValue) takes no values", hint: "remove values, or use In/NotIn to compare them")
            return nil
        }
        return LabelSelector.Requirement(key: key, operator: op, values: given)
    }
}
