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

        // Services.
        var touched: Set<ObjectRef> = []
        for s in old?.services ?? [] { services[s.ref]?.remove(path); touched.insert(s.ref) }
        for s in set?.services ?? [] { services[s.ref, default: Definers()].add(path); touched.insert(s.ref) }
        if !touched.isEmpty {
            let own = Dictionary((set?.services ?? []).map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
            for ref in touched {
                let value = winner(services, ref, .service(ref), path: path, own: own) { file, ref in
                    file.services.first { $0.ref == ref }
                }
                if services[ref]?.paths.isEmpty ?? false { services.removeValue(forKey: ref) }
                if base.services[ref] != value {
                    base.services[ref] = value
                    changes.serviceObjects.insert(ref)
                }
            }
        }

        // EndpointSlices: a change concerns the Service named before and after.
        touched = []
        for s in old?.endpointSlices ?? [] { slices[s.ref]?.remove(path); touched.insert(s.ref) }
        for s in set?.endpointSlices ?? [] { slices[s.ref, default: Definers()].add(path); touched.insert(s.ref) }
        if !touched.isEmpty {
            let own = Dictionary((set?.endpointSlices ?? []).map { ($0.ref, $0) }, uniquingKeysWith: { first, _ in first })
            for ref in touched {
                let value = winner(slices, ref, .slice(ref), path: path, own: own) { file, ref in
                    file.endpointSlices.first { $0.ref == ref }
                }
                if slices[ref]?.paths.isEmpty ?? false { slices.removeValue(forKey: ref) }
                let before = base.endpointSlices[ref]
                if before != value {
                    base.endpointSlices[ref] = value
                    if let before { changes.endpoints.insert(before.serviceRef) }
                    if let value { changes.endpoints.insert(value.serviceRef) }
                }
            }
        }

        // Nodes and Namespaces: every Service's plan or allocation reads them.
        var names: Set<String> = []
        for n in old?.nodes ?? [] { nodes[n.name]?.remove(path); names.insert(n.name) }
        for n in set?.nodes ?? [] { nodes[n.name, default: Definers()].add(path); names.insert(n.name) }
        if !names.isEmpty {
            let own = Dictionary((set?.nodes ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for name in names {
                let value = winner(nodes, name, .node(name), path: path, own: own) { file, name in
                    file.nodes.first { $0.name == name }
                }
                if nodes[name]?.paths.isEmpty ?? false { nodes.removeValue(forKey: name) }
                if base.nodes[name] != value {
                    base.nodes[name] = value
                    changes.everything = true
                }
            }
        }
        names = []
        for n in old?.namespaces ?? [] { namespaces[n.name]?.remove(path); names.insert(n.name) }
        for n in set?.namespaces ?? [] { namespaces[n.name, default: Definers()].add(path); names.insert(n.name) }
        if !names.isEmpty {
            let own = Dictionary((set?.namespaces ?? []).map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for name in names {
                let value = winner(namespaces, name, .namespace(name), path: path, own: own) { file, name in
                    file.namespaces.first { $0.name == name }
                }
                if namespaces[name]?.paths.isEmpty ?? false { namespaces.removeValue(forKey: name) }
                if base.namespaces[name] != value {
                    base.namespaces[name] = value
                    changes.everything = true
                }
            }
        }

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

    /// The object in force for `key` after `path` changed, keeping the
    /// record of duplicates up to date.
    private mutating func winner<Key, Value>(
        _ definers: [Key: Definers], _ key: Key, _ id: ObjectID, path: String, own: [Key: Value],
        find: (ManifestSet, Key) -> Value?
    ) -> Value? {
        let paths = definers[key]?.paths ?? []
        if paths.count > 1 { duplicated.insert(id) } else { duplicated.remove(id) }
        guard let first = paths.first else { return nil }
        return first == path ? own[key] : files[first].flatMap { find($0, key) }
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
