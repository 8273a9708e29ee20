// What one manifest file contributes, and the seam to the decoder.
// BallastConfig owns YAML/JSON decoding; this target only decides which files
// count, when to read them, and what happens when one of them is broken.
import BallastCore

/// The Kubernetes objects decoded from one file.
public struct ManifestObjects: Sendable, Hashable {
    public var services: [Service]
    public var endpointSlices: [EndpointSlice]
    public var nodes: [Node]
    public var namespaces: [Namespace]

    public init(services: [Service] = [], endpointSlices: [EndpointSlice] = [], nodes: [Node] = [],
                namespaces: [Namespace] = []) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.nodes = nodes
        self.namespaces = namespaces
    }

    public var isEmpty: Bool { services.isEmpty && endpointSlices.isEmpty && nodes.isEmpty && namespaces.isEmpty }
}

/// Decodes one file. `path` is the full path, for error messages: a thrown
/// error's description should carry "path:line" (BallastConfig's errors do).
public typealias ManifestDecoder = @Sendable (_ path: String, _ contents: String) throws -> ManifestObjects

/// A file that is currently not (fully) used, and why.
public struct ManifestProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The file failed to decode; `usingLastGood` tells whether an older
        /// version of it is still in force.
        case invalid(usingLastGood: Bool)
        /// An object in this file is also defined by an earlier file (by name order); this one is ignored.
        case duplicate
        /// The file could not be read at all.
        case unreadable(usingLastGood: Bool)
        /// The watched directory itself is missing or was moved away.
        case directory
    }

    /// File name relative to the watched directory ("" for the directory itself).
    public var file: String
    public var kind: Kind
    /// Message as the decoder or the system gave it, normally starting with "path:line: ".
    public var message: String

    public init(file: String, kind: Kind, message: String) {
        self.file = file
        self.kind = kind
        self.message = message
    }

    public var description: String {
        switch kind {
        case .invalid(let lastGood), .unreadable(let lastGood):
            message + (lastGood ? " (the last good version of \(file) stays in force)"
                                : " (nothing from \(file) is in use)")
        case .duplicate, .directory:
            message
        }
    }
}

/// One state of the watched directory, delivered after each (coalesced) change.
public struct ManifestUpdate: Sendable, Hashable {
    public var snapshot: ClusterSnapshot
    public var problems: [ManifestProblem]
    /// Files whose in-force content changed in this update (relative names, sorted).
    public var changedFiles: [String]

    public init(snapshot: ClusterSnapshot, problems: [ManifestProblem], changedFiles: [String]) {
        self.snapshot = snapshot
        self.problems = problems
        self.changedFiles = changedFiles
    }
}
