// The seam to the decoder, and what the watcher reports.
// BallastConfig owns YAML/JSON decoding; this target only decides which files
// count, when to read them, and what happens when one of them is broken.
import BallastConfig
import BallastCore

/// Decodes one file. `path` is the full path, for error messages: a thrown
/// error's description should carry "path:line" (BallastConfig's do).
public typealias ManifestDecoder = @Sendable (_ path: String, _ contents: String) throws -> ManifestSet

/// The decoder of Kubernetes manifests (YAML or JSON, multi-document, `kind: List`).
public let kubernetesManifestDecoder: ManifestDecoder = { path, contents in
    try ManifestSet.decode(yaml: contents, file: path)
}

/// A file that is currently not (fully) used, and why.
public struct ManifestProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The file failed to decode; `usingLastGood` tells whether an older
        /// version of it is still in force.
        case invalid(usingLastGood: Bool)
        /// The file is in force, but something in it (or in how it merges with
        /// the others, such as an object defined twice) is probably not what
        /// its author meant.
        case warning
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
        case .warning, .directory:
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
    /// What changed in `snapshot` since the update before (the Services concerned).
    public var changes: SnapshotChanges

    public init(snapshot: ClusterSnapshot, problems: [ManifestProblem], changedFiles: [String],
                changes: SnapshotChanges = .everything) {
        self.snapshot = snapshot
        self.problems = problems
        self.changedFiles = changedFiles
        self.changes = changes
    }
}

extension ManifestUpdate: ChangeReporting {
    public mutating func takeOverChanges(of replaced: ManifestUpdate) -> Bool {
        let before = (changes, changedFiles)
        changes.formUnion(replaced.changes)
        changedFiles = Set(changedFiles).union(replaced.changedFiles).sorted()
        return changes != before.0 || changedFiles != before.1
    }
}

/// A stream element that says what changed since the element before it, in
/// a stream that keeps only the newest element (`.bufferingNewest(1)`, so
/// that a slow reader skips to the latest snapshot): an element replaced
/// unread must hand its changes on to the one replacing it, or the reader
/// would never redo what only the replaced one named.
public protocol ChangeReporting: Sendable {
    /// Adds the changes of `replaced`, an element this one replaces unread.
    /// Returns whether that added anything.
    mutating func takeOverChanges(of replaced: Self) -> Bool
}

extension AsyncStream.Continuation where Element: ChangeReporting {
    /// Yields `element` to a stream that keeps only the newest element; an
    /// element it replaces unread hands its changes on to it.
    @discardableResult
    public func yieldKeepingChanges(_ element: Element) -> YieldResult {
        var element = element
        while true {
            let result = yield(element)
            guard case .dropped(let replaced) = result else { return result }
            // `element` now waits in the buffer; yielded again with the
            // replaced one's changes, it replaces itself. When those add
            // nothing (the element dropped was `element` itself, from the
            // round before), the one waiting is complete.
            guard element.takeOverChanges(of: replaced) else { return result }
        }
    }
}
