// The in-force content of a manifest directory, file by file. A file that
// stops parsing keeps its last good version in force, so a half-saved edit
// or a typo in one file never withdraws the Services of that file, let alone
// of the others; the problem is reported instead.
import BallastConfig
import BallastCore

public struct ManifestFiles: Sendable {
    struct Entry: Sendable, Hashable {
        var path: String
        /// The last version that decoded; nil if none did.
        var good: LastGood?
        var problem: ManifestProblem?
    }

    /// What is kept of a file's last good version beside the merge. Its
    /// objects are in force in `merge`, which keeps them under `path` and
    /// gives them back (`lastGood(of:)`): a copy here would hold every
    /// Service and slice twice (3.4 MiB of arrays at 10,000 files).
    struct LastGood: Sendable, Hashable {
        /// Of the text it came from.
        var digest: ContentDigest
        /// The decoder's warnings and notes.
        var diagnostics: [Diagnostic]
    }

    private(set) var entries: [String: Entry] = [:]
    /// Set while the directory itself is unusable; every file's last good version stays.
    public var directoryProblem: ManifestProblem?
    /// The in-force objects merged, patched file by file.
    private var merge = ManifestMerge()
    /// What the merge changed since `takeChanges()`.
    private var changes = SnapshotChanges()
    /// Files with a problem or with warnings: the problems are listed without
    /// going through every file.
    private var noisy: Set<String> = []

    public init() {}

    /// Every file known (in force, or failing), sorted.
    public var knownFiles: [String] { entries.keys.sorted() }

    /// Files that currently contribute objects, sorted.
    public var filesInForce: [String] { entries.filter { $0.value.good != nil }.keys.sorted() }

    /// Records the new contents of `file` (relative name; `path` is the full path for messages).
    /// Returns whether the in-force objects changed.
    @discardableResult
    public mutating func update(file: String, path: String, contents: String, decoder: ManifestDecoder) -> Bool {
        let digest = ContentDigest(contents)
        return record(file: file, path: path, digest: digest,
                      decoded: needsDecoding(file: file, digest: digest) ? Result { try decoder(path, contents) } : nil)
    }

    /// Whether text with this digest differs from the version of `file` in
    /// force, so that it must be decoded (an editor re-saving or a touch does not).
    func needsDecoding(file: String, digest: ContentDigest) -> Bool {
        entries[file]?.good?.digest != digest
    }

    /// Records a version of `file` decoded elsewhere (the watcher decodes on
    /// all cores); `decoded` is nil when `needsDecoding` said there was no need.
    /// Returns whether the in-force objects changed.
    mutating func record(file: String, path: String, digest: ContentDigest,
                         decoded: Result<ManifestSet, any Error>?) -> Bool {
        var entry = entries[file] ?? Entry(path: path)
        switch decoded {
        case nil:
            // Same text as in force: nothing to decode, and nothing wrong any more.
            entry.problem = nil
            store(entry, as: file)
            return false
        case .success(let objects):
            let changed = lastGood(of: entry) != objects
            let old = entry
            entry = Entry(path: path, good: LastGood(digest: digest, diagnostics: objects.diagnostics), problem: nil)
            store(entry, as: file)
            if changed || old.path != path { putInForce(old: old, new: entry, objects: objects) }
            return changed
        case .failure(let error):
            entry.problem = ManifestProblem(file: file, kind: .invalid(usingLastGood: entry.good != nil),
                                            message: Self.message(for: error, path: path))
            store(entry, as: file)
            return false
        }
    }

    private mutating func store(_ entry: Entry, as file: String) {
        entries[file] = entry
        let warns = entry.good?.diagnostics.contains { $0.severity != .note } ?? false
        if entry.problem != nil || warns { noisy.insert(file) } else { noisy.remove(file) }
    }

    /// Patches the merge with a file's new objects in force (`objects`, of `new`).
    private mutating func putInForce(old: Entry?, new: Entry?, objects: ManifestSet?) {
        if let old, old.good != nil, old.path != new?.path {
            changes.formUnion(merge.update(path: old.path, to: nil))
        }
        if let new, new.good != nil || old?.good != nil {
            changes.formUnion(merge.update(path: new.path, to: objects))
        }
    }

    /// The last good version of a file as it was decoded: its objects from
    /// the merge, its diagnostics from the entry.
    private func lastGood(of entry: Entry) -> ManifestSet? {
        guard let good = entry.good else { return nil }
        var set = merge.objects(definedIn: entry.path) ?? ManifestSet()
        set.diagnostics = good.diagnostics
        return set
    }

    /// What changed in the merged snapshot since the last call: the Services
    /// whose objects or slices changed, or everything (Nodes, Namespaces).
    public mutating func takeChanges() -> SnapshotChanges {
        defer { changes = SnapshotChanges() }
        return changes
    }

    /// Records that `file` could not be read (the error is not about its contents).
    public mutating func unreadable(file: String, path: String, message: String) {
        var entry = entries[file] ?? Entry(path: path)
        entry.problem = ManifestProblem(file: file, kind: .unreadable(usingLastGood: entry.good != nil), message: message)
        store(entry, as: file)
    }

    /// Forgets `file` (deleted or renamed away). Returns whether objects were withdrawn.
    @discardableResult
    public mutating func remove(file: String) -> Bool {
        guard let old = entries.removeValue(forKey: file) else { return false }
        noisy.remove(file)
        let withdrawn = lastGood(of: old).map { $0 != ManifestSet() } ?? false
        putInForce(old: old, new: nil, objects: nil)
        return withdrawn
    }

    /// The merged snapshot and every current problem. Merging is
    /// BallastConfig's (files in path order, an object defined twice kept from
    /// the first file, legacy Endpoints only for Services without a slice), so
    /// the daemon and `ballastd --check-config` agree; ManifestMerge keeps it
    /// patched file by file. Warnings of the files in force and of the merge
    /// are problems too; notes (deliberate conversions) are not.
    public mutating func merged() -> (snapshot: ClusterSnapshot, problems: [ManifestProblem]) {
        merge.settle()
        var problems: [ManifestProblem] = []
        if let directoryProblem { problems.append(directoryProblem) }
        for file in noisy.sorted() {
            guard let entry = entries[file] else { continue }
            if let problem = entry.problem { problems.append(problem) }
            guard let good = entry.good else { continue }
            problems += good.diagnostics.filter { $0.severity != .note }.map {
                ManifestProblem(file: file, kind: .warning, message: $0.description)
            }
        }
        let diagnostics = merge.diagnostics.filter { $0.severity != .note }
        if !diagnostics.isEmpty {
            var nameOfPath: [String: String] = [:]
            for (file, entry) in entries where entry.good != nil { nameOfPath[entry.path] = file }
            problems += diagnostics.map { d in
                ManifestProblem(file: d.location.flatMap { nameOfPath[$0.file] } ?? "", kind: .warning, message: d.description)
            }
        }
        return (merge.snapshot, problems)
    }

    /// The decoder's message, prefixed with the path when it does not already name it.
    static func message(for error: any Error, path: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(path) ? text : "\(path): \(text)"
    }
}

/// Identifies a file's text without keeping it: the daemon would otherwise
/// hold every manifest's text for its lifetime (25 MB for 10,000 Services)
/// only to notice re-saves of unchanged files. The length and the standard
/// library's SipHash, whose key is random per process, so that nobody can
/// write a different manifest that passes for the one in force.
struct ContentDigest: Sendable, Hashable {
    let count: Int
    let hash: Int

    init(_ text: String) {
        var hasher = Hasher()
        var count = 0
        var copy = text
        copy.withUTF8 { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
            count = bytes.count
        }
        self.count = count
        hash = hasher.finalize()
    }
}
