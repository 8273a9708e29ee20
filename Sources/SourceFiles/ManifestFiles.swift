// The in-force content of a manifest directory, file by file. A file that
// stops parsing keeps its last good version in force, so a half-saved edit
// or a typo in one file never withdraws the Services of that file, let alone
// of the others; the problem is reported instead.
import BallastConfig
import BallastCore

public struct ManifestFiles: Sendable {
    struct Entry: Sendable, Hashable {
        var path: String
        /// The last version that decoded, with the text it came from.
        var good: ManifestSet?
        var goodContents: String?
        var problem: ManifestProblem?
    }

    private(set) var entries: [String: Entry] = [:]
    /// Set while the directory itself is unusable; every file's last good version stays.
    public var directoryProblem: ManifestProblem?

    public init() {}

    /// Every file known (in force, or failing), sorted.
    public var knownFiles: [String] { entries.keys.sorted() }

    /// Files that currently contribute objects, sorted.
    public var filesInForce: [String] { entries.filter { $0.value.good != nil }.keys.sorted() }

    /// Records the new contents of `file` (relative name; `path` is the full path for messages).
    /// Returns whether the in-force objects changed.
    @discardableResult
    public mutating func update(file: String, path: String, contents: String, decoder: ManifestDecoder) -> Bool {
        var entry = entries[file] ?? Entry(path: path)
        if entry.goodContents == contents {
            // Same text as in force (an editor re-saving, a touch): nothing to decode.
            entry.problem = nil
            entries[file] = entry
            return false
        }
        do {
            let objects = try decoder(path, contents)
            let changed = entry.good != objects
            entries[file] = Entry(path: path, good: objects, goodContents: contents, problem: nil)
            return changed
        } catch {
            entry.problem = ManifestProblem(file: file, kind: .invalid(usingLastGood: entry.good != nil),
                                            message: Self.message(for: error, path: path))
            entries[file] = entry
            return false
        }
    }

    /// Records that `file` could not be read (the error is not about its contents).
    public mutating func unreadable(file: String, path: String, message: String) {
        var entry = entries[file] ?? Entry(path: path)
        entry.problem = ManifestProblem(file: file, kind: .unreadable(usingLastGood: entry.good != nil), message: message)
        entries[file] = entry
    }

    /// Forgets `file` (deleted or renamed away). Returns whether objects were withdrawn.
    @discardableResult
    public mutating func remove(file: String) -> Bool {
        guard let old = entries.removeValue(forKey: file) else { return false }
        return old.good.map { $0 != ManifestSet() } ?? false
    }

    /// The merged snapshot and every current problem. Merging is
    /// BallastConfig's (files in path order, an object defined twice kept from
    /// the first file, legacy Endpoints only for Services without a slice), so
    /// the daemon and `ballastd --check-config` agree. Warnings of the files in
    /// force and of the merge are problems too; notes (deliberate conversions)
    /// are not.
    public func merged() -> (snapshot: ClusterSnapshot, problems: [ManifestProblem]) {
        var problems: [ManifestProblem] = []
        if let directoryProblem { problems.append(directoryProblem) }
        var inForce: [String: ManifestSet] = [:]
        var nameOfPath: [String: String] = [:]
        for (file, entry) in entries.sorted(by: { $0.key < $1.key }) {
            if let problem = entry.problem { problems.append(problem) }
            guard let good = entry.good else { continue }
            inForce[entry.path] = good
            nameOfPath[entry.path] = file
            problems += good.diagnostics.filter { $0.severity != .note }.map {
                ManifestProblem(file: file, kind: .warning, message: $0.description)
            }
        }
        let (snapshot, diagnostics) = ManifestSet.snapshot(of: inForce)
        problems += diagnostics.filter { $0.severity != .note }.map { d in
            ManifestProblem(file: d.location.flatMap { nameOfPath[$0.file] } ?? "", kind: .warning, message: d.description)
        }
        return (snapshot, problems)
    }

    /// The decoder's message, prefixed with the path when it does not already name it.
    static func message(for error: any Error, path: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(path) ? text : "\(path): \(text)"
    }
}
