// `ManifestSet.snapshot(of:)` kept up to date one file at a time, for the
// file watcher: merging every file's objects again after each change costs
// time in proportion to all Services (10,000 files), while one edited file
// changes a handful of objects. The result is the same as merging all files
// (files in path order, an object defined twice taken from the first file
// with a warning, legacy Endpoints only for Services without a slice), and
// each update says which Services it changed (SnapshotChanges).
import BallastCore

public struct ManifestMerge: Sendable {
    /// Files defining one object, by path; the first is the one in force.
    /// A file defines an object at most once (the decoder rejects repeats).
    private struct Definers: Sendable {
        var paths: [String] = []

        var first: String? { paths.first }

        mutating func add(_ path: String) {
            var low = 0
            var high = paths.count
            while low < high {
                let middle = (low + high) / 2
                if paths[middle] < path { low = middle + 1 } else { high = middle }
            }
            paths.insert(path, at: low)
        }

        mutating func remove(_ path: String) {
            if let index = paths.firstIndex(of: path) { paths.remove(at: index) }
        }
    }

    /// An object defined in more than one file.
    private enum ObjectID: Hashable {
        case service(ObjectRef), slice(ObjectRef), node(String), namespace(String)
    }

    private var files: [String: ManifestSet] = [:]
    private var services: [ObjectRef: Definers] = [:]
    private var slices: [ObjectRef: Definers] = [:]
    private var nodes: [String: Definers] = [:]
    private var namespaces: [String: Definers] = [:]
    private var duplicated: Set<ObjectID> = []
    /// Files with legacy v1 Endpoints: rare (dumps of a cluster), and they
    /// depend on every slice of every file, so with any of them the snapshot
    /// is merged in full.
    private var legacyFiles: Set<String> = []
    /// The merge without legacy Endpoints.
    private var base = ClusterSnapshot()
    /// With legacy Endpoints in force: the full merge, made by `settle()`
    /// once after any number of updates (the first scan puts 10,000 files in
    /// force one by one; merging after each would be quadratic). nil: not made yet.
    private var full: (snapshot: ClusterSnapshot, diagnostics: [Diagnostic])?

    public init() {}

    /// Makes the full merge that legacy Endpoints need, if they are in force
    /// and it is not made yet; `snapshot` and `diagnostics` are then cheap.
    public mutating func settle() {
        if !legacyFiles.isEmpty && full == nil { full = ManifestSet.snapshot(of: files) }
    }

    /// The merged snapshot, as `ManifestSet.snapshot(of:)` of every file in force.
    public var snapshot: ClusterSnapshot {
        full?.snapshot ?? (legacyFiles.isEmpty ? base : ManifestSet.snapshot(of: files).snapshot)
    }

    /// The merge's warnings, in `ManifestSet.snapshot(of:)`'s order.
    public var diagnostics: [Diagnostic] {
        full?.diagnostics ?? (legacyFiles.isEmpty ? duplicateDiagnostics() : ManifestSet.snapshot(of: files).diagnostics)
    }

    /// Puts `set` in force for `path` (nil: the file is gone). Returns what
    /// changed in the snapshot.
    @discardableResult
    public mutating func update(path: String, to set: ManifestSet?) -> SnapshotChanges {
        let old = files[path]
        files[path] = set
        var changes = SnapshotChanges()

        for change in patch(\.services, key: \.ref, id: ObjectID.service, definers: \.services, merged: \.services,
                            path: path, old: old, new: set) {
            changes.serviceObjects.insert(change.key)
        }
        // EndpointSlices: a change concerns the Service named before and after.
        for change in patch(\.endpointSlices, key: \.ref, id: ObjectID.slice, definers: \.slices,
                            merged: \.endpointSlices, path: path, old: old, new: set) {
            if let before = change.before { changes.endpoints.insert(before.serviceRef) }
            if let after = change.after { changes.endpoints.insert(after.serviceRef) }
        }
        // Nodes and Namespaces: every Service's plan or allocation reads them.
        let nodesChanged = patch(\.nodes, key: \.name, id: ObjectID.node, definers: \.nodes, merged: \.nodes,
                                 path: path, old: old, new: set)
        let namespacesChanged = patch(\.namespaces, key: \.name, id: ObjectID.namespace, definers: \.namespaces,
                                      merged: \.namespaces, path: path, old: old, new: set)
        if !nodesChanged.isEmpty || !namespacesChanged.isEmpty { changes.everything = true }

        // Legacy Endpoints count only where no slice serves the Service, so
        // they follow every slice of every file: merged in full (settle()).
        let hadLegacy = !legacyFiles.isEmpty
        if set.map({ !$0.legacyEndpointSlices.isEmpty }) ?? false {
            legacyFiles.insert(path)
        } else {
            legacyFiles.remove(path)
        }
        full = nil
        if hadLegacy || !legacyFiles.isEmpty { changes.everything = true }
        return changes
    }

    /// Decides again, for every object of one kind that `path` defined
    /// before or defines now, which definition is in force (the first file's),
    /// keeping the record of duplicates up to date, and puts it in the merge.
    /// Returns the objects whose definition in force changed.
    private mutating func patch<Key: Hashable, Value: Equatable>(
        _ items: KeyPath<ManifestSet, [Value]>, key: (Value) -> Key, id: (Key) -> ObjectID,
        definers: WritableKeyPath<ManifestMerge, [Key: Definers]>, merged: WritableKeyPath<ClusterSnapshot, [Key: Value]>,
        path: String, old: ManifestSet?, new: ManifestSet?
    ) -> [(key: Key, before: Value?, after: Value?)] {
        var touched: Set<Key> = []
        for value in old?[keyPath: items] ?? [] {
            self[keyPath: definers][key(value)]?.remove(path)
            touched.insert(key(value))
        }
        for value in new?[keyPath: items] ?? [] {
            self[keyPath: definers][key(value), default: Definers()].add(path)
            touched.insert(key(value))
        }
        guard !touched.isEmpty else { return [] }
        let own = Dictionary((new?[keyPath: items] ?? []).map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
        var changed: [(key: Key, before: Value?, after: Value?)] = []
        for object in touched {
            let paths = self[keyPath: definers][object]?.paths ?? []
            if paths.count > 1 { duplicated.insert(id(object)) } else { duplicated.remove(id(object)) }
            if paths.isEmpty { self[keyPath: definers].removeValue(forKey: object) }
            let value = paths.first.flatMap { first in
                first == path ? own[object] : files[first]?[keyPath: items].first { key($0) == object }
            }
            let before = base[keyPath: merged][object]
            if before != value {
                base[keyPath: merged][object] = value
                changed.append((object, before, value))
            }
        }
        return changed
    }

    /// The duplicate warnings in the order a merge in path order makes them:
    /// by the file that repeats the object, then kind, then place in the file.
    private func duplicateDiagnostics() -> [Diagnostic] {
        guard !duplicated.isEmpty else { return [] }
        var found: [(path: String, kind: Int, index: Int, diagnostic: Diagnostic)] = []
        func add(_ id: String, _ paths: [String], kind: Int, locate: (ManifestSet) -> (Int, SourceLocation?)?) {
            guard let first = paths.first else { return }
            for later in paths.dropFirst() {
                guard let set = files[later], let (index, location) = locate(set) else { continue }
                found.append((later, kind, index, Diagnostic(
                    .warning, "\(id) is defined in \(first) and in \(later); the one in \(later) is ignored",
                    at: location, hint: "keep one definition")))
            }
        }
        for id in duplicated {
            switch id {
            case .service(let ref):
                add("Service \(ref)", services[ref]?.paths ?? [], kind: 0) { set in
                    set.services.firstIndex { $0.ref == ref }.map { ($0, set.services[$0].location) }
                }
            case .slice(let ref):
                add("EndpointSlice \(ref)", slices[ref]?.paths ?? [], kind: 1) { set in
                    set.endpointSlices.firstIndex { $0.ref == ref }.map { ($0, set.endpointSlices[$0].location) }
                }
            case .node(let name):
                add("Node \(name)", nodes[name]?.paths ?? [], kind: 2) { set in
                    set.nodes.firstIndex { $0.name == name }.map { ($0, nil) }
                }
            case .namespace(let name):
                add("Namespace \(name)", namespaces[name]?.paths ?? [], kind: 3) { set in
                    set.namespaces.firstIndex { $0.name == name }.map { ($0, nil) }
                }
            }
        }
        found.sort { ($0.path, $0.kind, $0.index) < ($1.path, $1.kind, $1.index) }
        return found.map(\.diagnostic)
    }
}
