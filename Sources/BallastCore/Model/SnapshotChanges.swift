// What a source says changed from one snapshot to the next, so that a sync can
// redo only the Services concerned instead of all of them (one EndpointSlice
// edited among 10,000 Services must not cost a plan of every Service).
//
// It is a promise about the snapshot: every Service whose own object or whose
// EndpointSlices differ from the previous snapshot is named. When a source
// cannot say (a rescan, Nodes or Namespaces changed, which every Service's
// plan or allocation reads), it says `everything`.

public struct SnapshotChanges: Sendable, Hashable, CustomStringConvertible {
    /// Services whose own object changed: added, removed or edited.
    public var serviceObjects: Set<ObjectRef>
    /// Services whose EndpointSlices changed (a slice added, removed or edited,
    /// under the Service it names before and after).
    public var endpoints: Set<ObjectRef>
    /// Anything else, or not known: every Service is to be redone.
    public var everything: Bool

    public init(serviceObjects: Set<ObjectRef> = [], endpoints: Set<ObjectRef> = [], everything: Bool = false) {
        self.serviceObjects = serviceObjects
        self.endpoints = endpoints
        self.everything = everything
    }

    /// Everything changed (or nobody knows what did).
    public static let everything = SnapshotChanges(everything: true)

    public var isEmpty: Bool { !everything && serviceObjects.isEmpty && endpoints.isEmpty }

    /// Every Service named, by its object or its slices.
    public var services: Set<ObjectRef> { serviceObjects.union(endpoints) }

    /// The changes of two steps in a row.
    public mutating func formUnion(_ other: SnapshotChanges) {
        everything = everything || other.everything
        serviceObjects.formUnion(other.serviceObjects)
        endpoints.formUnion(other.endpoints)
    }

    public var description: String {
        everything ? "everything" : "\(serviceObjects.count) Service object(s), endpoints of \(endpoints.count) Service(s)"
    }
}
