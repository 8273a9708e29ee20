// The in-force content of a manifest directory, file by file. A file that
// stops parsing keeps its last good version in force, so a half-saved edit
// or a typo in one file never withdraws the Services of that file, let alone
// of the others; the problem is reported instead.
import BallastCore

public struct ManifestSet: Sendable {
    struct Entry: Sendable, Hashable {
        /// The last version that decoded, with the text it came from.
        var good: ManifestObjects?
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
        var entry = entries[file] ?? Entry()
        if entry.goodContents == contents {
            // Same text as in force (an editor re-saving, a touch): nothing to decode.
            entry.problem = nil
            entries[file] = entry
            return false
        }
        do {
            let objects = try decoder(path, contents)
            let changed = entry.good != objects
            entries[file] = Entry(good: objects, goodContents: contents, problem: nil)
            return changed
        } catch {
            entry.problem = ManifestProblem(file: file, kind: .invalid(usingLastGood: entry.good != nil),
                                            message: Self.message(for: error, path: path))
            entries[file] = entry
            return false
        }
    }

    /// Records that `file` could not be read (the error is not about its contents).
    public mutating func unreadable(file: String, message: String) {
        var entry = entries[file] ?? Entry()
        entry.problem = ManifestProblem(file: file, kind: .unreadable(usingLastGood: entry.good != nil), message: message)
        entries[file] = entry
    }

    /// Forgets `file` (deleted or renamed away). Returns whether objects were withdrawn.
    @discardableResult
    public mutating func remove(file: String) -> Bool {
        guard let old = entries.removeValue(forKey: file) else { return false }
        return old.good.map { !$0.isEmpty } ?? false
    }

    /// The merged snapshot and every current problem. Files are merged in
    /// name order; an object defined twice keeps its first definition and the
    /// later file gets a `.duplicate` problem, so the result does not depend
    /// on the order in which files happened to change.
    public func merged() -> (snapshot: ClusterSnapshot, problems: [ManifestProblem]) {
        var snapshot = ClusterSnapshot()
        var origin: [String: String] = [:]  // "Service default/web" → file
        var problems: [ManifestProblem] = []
        if let directoryProblem { problems.append(directoryProblem) }

        func claim(_ kind: String, _ name: String, _ file: String) -> Bool {
            let key = "\(kind) \(name)"
            if let first = origin[key] {
                problems.append(ManifestProblem(
                    file: file, kind: .duplicate,
                    message: "\(file): \(key) is already defined in \(first); the definition in \(file) is ignored"))
                return false
            }
            origin[key] = file
            return true
        }

        for file in entries.keys.sorted() {
            let entry = entries[file]!
            if let problem = entry.problem { problems.append(problem) }
            guard let objects = entry.good else { continue }
            for s in objects.services where claim("Service", s.ref.description, file) {
                snapshot.services[s.ref] = s
            }
            for e in objects.endpointSlices where claim("EndpointSlice", e.ref.description, file) {
                snapshot.endpointSlices[e.ref] = e
            }
            for n in objects.nodes where claim("Node", n.name, file) {
                snapshot.nodes[n.name] = n
            }
            for n in objects.namespaces where claim("Namespace", n.name, file) {
                snapshot.namespaces[n.name] = n
            }
        }
        return (snapshot, problems)
    }

    /// The decoder's message, prefixed with the path when it does not already name it.
    static func message(for error: any Error, path: String) -> String {
        let text = "\(error)"
        return text.hasPrefix(path) ? text : "\(path): \(text)"
    }
}
