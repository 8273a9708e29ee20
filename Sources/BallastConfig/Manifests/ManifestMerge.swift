// `ManifestSet.snapshot(of:)` kept up to date one file at a time, for the
// file watcher: merging every file's objects again after each change costs
// time in proportion to all Services (10,000 files), while one edited file
// changes a handful of objects. The result is the same as merging all files
// (files in path order, an object defined twice taken from the first file
// with a warning, legacy Endpoints only for Services without a slice), and
// each update says which Services it changed (SnapshotChanges).
//
// Every definition is stored once (issue 5, memory): the merged snapshot holds
// the ones in force, a file only the keys of what it defines, and the rare
// definitions that a file earlier in path order overrides wait in a side table
// to take over when that file changes or goes. Keeping each file's objects
// beside the merge, as this did before, held a second copy of 10,000 Services
// and their slices, with a list of defining files per object (~6 MiB).
import BallastCore

public struct ManifestMerge: Sendable {
    /// One object, as a file lists what it defines.
    private enum ObjectID: Hashable, Sendable {
        case service(ObjectRef), slice(ObjectRef), node(String), namespace(String)
    }

    /// An object that more than one file defines: a mistake the merge warns
    /// about, so rare.
    private struct Duplicate<Value: Sendable>: Sendable {
        /// The first file defining it in path order, whose definition is in
        /// force (in `base`).
        var inForce: String
        /// The other files' definitions, in path order.
        var overridden: [(path: String, value: Value)]
    }

    /// What each file in force defines: its objects' keys in file order,
    /// kind after kind (Services, slices, Nodes, Namespaces), as a merge in
    /// path order meets them. Their values are in `base` or in the
    /// `Duplicate`s. A file defines an object at most once (the decoder
    /// rejects repeats).
    private var files: [String: [ObjectID]] = [:]
    /// The merge without legacy Endpoints: every definition in force.
    private var base = ClusterSnapshot()
    private var duplicateServices: [ObjectRef: Duplicate<Service>] = [:]
    private var duplicateSlices: [ObjectRef: Duplicate<EndpointSlice>] = [:]
    private var duplicateNodes: [String: Duplicate<Node>] = [:]
    private var duplicateNamespaces: [String: Duplicate<Namespace>] = [:]
    /// Slices converted from legacy v1 Endpoints, by file: rare (dumps of a
    /// cluster), and they depend on every slice of every file, so with any of
    /// them they are merged again on top of `base` after every change.
    private var legacy: [String: [EndpointSlice]] = [:]
    /// With legacy Endpoints in force: the full merge, made by `settle()`
    /// once after any number of updates (the first scan puts 10,000 files in
    /// force one by one; merging after each would be quadratic). nil: not made yet.
    private var full: (snapshot: ClusterSnapshot, diagnostics: [Diagnostic])?

    public init() {}

    /// Makes the full merge that legacy Endpoints need, if they are in force
    /// and it is not made yet; `snapshot` and `diagnostics` are then cheap.
    public mutating func settle() {
        if !legacy.isEmpty && full == nil { full = mergedWithLegacyEndpoints() }
    }

    /// The merged snapshot, as `ManifestSet.snapshot(of:)` of every file in force.
    public var snapshot: ClusterSnapshot {
        full?.snapshot ?? (legacy.isEmpty ? base : mergedWithLegacyEndpoints().snapshot)
    }

    /// The merge's warnings, in `ManifestSet.snapshot(of:)`'s order.
    public var diagnostics: [Diagnostic] {
        full?.diagnostics ?? (legacy.isEmpty ? duplicateDiagnostics() : mergedWithLegacyEndpoints().diagnostics)
    }

    /// The objects in force for `path`, as `update(path:to:)` took them but
    /// without their diagnostics (the caller keeps those); nil when the file
    /// is not in force. Rebuilt from the merge, which keeps no copy per file.
    public func objects(definedIn path: String) -> ManifestSet? {
        guard let keys = files[path] else { return nil }
        var set = ManifestSet(legacyEndpointSlices: legacy[path] ?? [])
        for id in keys {
            switch id {
            case .service(let ref): set.services.append(definition(Self.services, of: ref, in: path))
            case .slice(let ref): set.endpointSlices.append(definition(Self.slices, of: ref, in: path))
            case .node(let name): set.nodes.append(definition(Self.nodes, of: name, in: path))
            case .namespace(let name): set.namespaces.append(definition(Self.namespaces, of: name, in: path))
            }
        }
        return set
    }

    /// Puts `set` in force for `path` (nil: the file is gone). Returns what
    /// changed in the snapshot.
    @discardableResult
    public mutating func update(path: String, to set: ManifestSet?) -> SnapshotChanges {
        let old = files[path] ?? []
        files[path] = set.map(Self.keys(of:))
        var changes = SnapshotChanges()

        for change in patch(Self.services, path: path, old: old, new: set) {
            changes.serviceObjects.insert(change.key)
        }
        // EndpointSlices: a change concerns the Service named before and after.
        for change in patch(Self.slices, path: path, old: old, new: set) {
            if let before = change.before { changes.endpoints.insert(before.serviceRef) }
            if let after = change.after { changes.endpoints.insert(after.serviceRef) }
        }
        // Nodes and Namespaces: every Service's plan or allocation reads them.
        let nodesChanged = patch(Self.nodes, path: path, old: old, new: set)
        let namespacesChanged = patch(Self.namespaces, path: path, old: old, new: set)
        if !nodesChanged.isEmpty || !namespacesChanged.isEmpty { changes.everything = true }

        // Legacy Endpoints count only where no slice serves the Service, so
        // they follow every slice of every file: merged in full (settle()).
        let hadLegacy = !legacy.isEmpty
        legacy[path] = set.flatMap { $0.legacyEndpointSlices.isEmpty ? nil : $0.legacyEndpointSlices }
        full = nil
        if hadLegacy || !legacy.isEmpty { changes.everything = true }
        return changes
    }

    /// The keys of a file's objects, in `files`' order, in one allocation.
    private static func keys(of set: ManifestSet) -> [ObjectID] {
        var keys: [ObjectID] = []
        keys.reserveCapacity(set.services.count + set.endpointSlices.count + set.nodes.count + set.namespaces.count)
        for service in set.services { keys.append(.service(service.ref)) }
        for slice in set.endpointSlices { keys.append(.slice(slice.ref)) }
        for node in set.nodes { keys.append(.node(node.name)) }
        for namespace in set.namespaces { keys.append(.namespace(namespace.name)) }
        return keys
    }

    /// How the merge handles one kind of object.
    private struct Kind<Key: Hashable & CustomStringConvertible, Value: Equatable & Sendable> {
        /// "Service", as the duplicate warnings name the kind.
        var name: String
        var items: KeyPath<ManifestSet, [Value]>
        var key: (Value) -> Key
        var id: (Key) -> ObjectID
        /// The key of `id` if it is of this kind.
        var keyOf: (ObjectID) -> Key?
        var merged: WritableKeyPath<ClusterSnapshot, [Key: Value]>
        var duplicates: WritableKeyPath<ManifestMerge, [Key: Duplicate<Value>]>
        /// Where a definition was read from, for the duplicate warnings; the
        /// decoder records the path of its file.
        var location: (Value) -> SourceLocation?
    }

    private static var services: Kind<ObjectRef, Service> {
        Kind(name: "Service", items: \.services, key: \.ref, id: ObjectID.service,
             keyOf: { if case .service(let ref) = $0 { ref } else { nil } },
             merged: \.services, duplicates: \.duplicateServices, location: \.location)
    }

    private static var slices: Kind<ObjectRef, EndpointSlice> {
        Kind(name: "EndpointSlice", items: \.endpointSlices, key: \.ref, id: ObjectID.slice,
             keyOf: { if case .slice(let ref) = $0 { ref } else { nil } },
             merged: \.endpointSlices, duplicates: \.duplicateSlices, location: \.location)
    }

    private static var nodes: Kind<String, Node> {
        Kind(name: "Node", items: \.nodes, key: \.name, id: ObjectID.node,
             keyOf: { if case .node(let name) = $0 { name } else { nil } },
             merged: \.nodes, duplicates: \.duplicateNodes, location: { _ in nil })
    }

    private static var namespaces: Kind<String, Namespace> {
        Kind(name: "Namespace", items: \.namespaces, key: \.name, id: ObjectID.namespace,
             keyOf: { if case .namespace(let name) = $0 { name } else { nil } },
             merged: \.namespaces, duplicates: \.duplicateNamespaces, location: { _ in nil })
    }

    /// Decides again, for every object of one kind that `path` defined
    /// before (`old`) or defines now, which definition is in force (the
    /// first file's in path order), puts it in the merge and keeps the
    /// others aside. Returns the objects whose definition in force changed.
    private mutating func patch<Key, Value>(
        _ kind: Kind<Key, Value>, path: String, old: [ObjectID], new: ManifestSet?
    ) -> [(key: Key, before: Value?, after: Value?)] {
        let defined = Set(old.compactMap(kind.keyOf))
        let own = Dictionary((new?[keyPath: kind.items] ?? []).map { (kind.key($0), $0) },
                             uniquingKeysWith: { first, _ in first })
        guard !defined.isEmpty || !own.isEmpty else { return [] }
        var changed: [(key: Key, before: Value?, after: Value?)] = []
        for key in defined.union(own.keys) {
            let before = base[keyPath: kind.merged][key]
            var definers = otherDefiners(kind, of: key, inForce: before, besides: path, definedBefore: defined.contains(key))
            if let value = own[key] {
                definers.insert((path, value), at: definers.firstIndex { $0.path > path } ?? definers.endIndex)
            }
            if let first = definers.first, definers.count > 1 {
                self[keyPath: kind.duplicates][key] = Duplicate(inForce: first.path, overridden: Array(definers.dropFirst()))
            } else {
                self[keyPath: kind.duplicates].removeValue(forKey: key)
            }
            let after = definers.first?.value
            if before != after {
                base[keyPath: kind.merged][key] = after
                changed.append((key, before, after))
            }
        }
        return changed
    }

    /// The files other than `path` that define `key`, in path order, with
    /// their definitions; `inForce` is the definition in the merge, and
    /// `definedBefore` whether `path` defined it until this update.
    private func otherDefiners<Key, Value>(
        _ kind: Kind<Key, Value>, of key: Key, inForce: Value?, besides path: String, definedBefore: Bool
    ) -> [(path: String, value: Value)] {
        if let duplicate = self[keyPath: kind.duplicates][key], let inForce {
            return ([(duplicate.inForce, inForce)] + duplicate.overridden).filter { $0.path != path }
        }
        // Defined by one file at most: `path` itself, or else the one whose
        // definition is in force.
        guard let inForce, !definedBefore else { return [] }
        return [(soleDefiner(of: kind.id(key), named: kind.location(inForce)?.file, besides: path), inForce)]
    }

    /// The one file other than `path` that defines `id`. Objects defined once
    /// record no file (a table of 20,000 paths would take 1.5 MiB): it is the
    /// file the definition says it was read from, or else found by a scan of
    /// every file's keys. Either happens only when a second file starts
    /// defining an object.
    private func soleDefiner(of id: ObjectID, named hint: String?, besides path: String) -> String {
        if let hint, hint != path, files[hint]?.contains(id) == true { return hint }
        guard let found = files.first(where: { $0.key != path && $0.value.contains(id) }) else {
            preconditionFailure("ManifestMerge: \(id) is in force but no file defines it")
        }
        return found.key
    }

    /// The definition of `key` that `path` made.
    private func definition<Key, Value>(_ kind: Kind<Key, Value>, of key: Key, in path: String) -> Value {
        let overridden = self[keyPath: kind.duplicates][key]?.overridden.first { $0.path == path }
        guard let value = overridden?.value ?? base[keyPath: kind.merged][key] else {
            preconditionFailure("ManifestMerge: \(path) defines \(kind.name) \(key) but it is neither in force nor overridden")
        }
        return value
    }

    /// The merge with legacy Endpoints, which go after every file's other
    /// objects, as in `ManifestSet.snapshot(of:)`.
    private func mergedWithLegacyEndpoints() -> (snapshot: ClusterSnapshot, diagnostics: [Diagnostic]) {
        var snapshot = base
        var diagnostics = duplicateDiagnostics()
        ManifestSet.mergeLegacyEndpoints(legacy.sorted { $0.key < $1.key }.flatMap(\.value),
                                         into: &snapshot, diagnostics: &diagnostics)
        return (snapshot, diagnostics)
    }

    /// The duplicate warnings in the order a merge in path order makes them:
    /// by the file that repeats the object, then by its place in that file
    /// (its keys are in kind order).
    private func duplicateDiagnostics() -> [Diagnostic] {
        var found = duplicateWarnings(Self.services)
        found += duplicateWarnings(Self.slices)
        found += duplicateWarnings(Self.nodes)
        found += duplicateWarnings(Self.namespaces)
        found.sort { ($0.path, $0.place) < ($1.path, $1.place) }
        return found.map(\.diagnostic)
    }

    private func duplicateWarnings<Key, Value>(
        _ kind: Kind<Key, Value>
    ) -> [(path: String, place: Int, diagnostic: Diagnostic)] {
        self[keyPath: kind.duplicates].flatMap { key, duplicate in
            duplicate.overridden.map { later in
                (later.path, files[later.path]?.firstIndex(of: kind.id(key)) ?? 0, Diagnostic(
                    .warning, "\(kind.name) \(key) is defined in \(duplicate.inForce) and in \(later.path); "
                        + "the one in \(later.path) is ignored",
                    at: kind.location(later.value), hint: "keep one definition"))
            }
        }
    }
}
