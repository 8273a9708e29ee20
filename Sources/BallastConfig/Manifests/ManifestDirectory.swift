import BallastCore

/// A directory of manifest files, the `files` source of Services.
///
/// Each file is decoded on its own and keeps its own result, so a daemon can
/// keep the last good version of a file that someone is in the middle of
/// editing while it takes every other file as it is.
public enum ManifestDirectory {
    public struct File: Sendable, Hashable {
        public var path: String
        public var result: Result<ManifestSet, Diagnostics>

        public init(path: String, result: Result<ManifestSet, Diagnostics>) {
            self.path = path
            self.result = result
        }
    }

    /// Every manifest file directly in `directory` (not in subdirectories, as
    /// `kubectl apply -f DIR` without -R), in name order; a failure only when the
    /// directory itself cannot be read. Files are read and decoded on all cores.
    public static func load(directory: String) -> Result<[File], Diagnostics> {
        load(directory: directory, fileSystem: .local)
    }

    static func load(directory: String, fileSystem: FileSystem) -> Result<[File], Diagnostics> {
        switch fileSystem.list(directory) {
        case .failure(let problem):
            return .failure(Diagnostics([Diagnostic(.error, "manifest directory \(directory) \(problem.reason)", at: nil)]))
        case .success(let names):
            let base = directory.hasSuffix("/") ? directory : directory + "/"
            return .success(concurrentMap(manifestNames(names)) { name in
                let path = base + name
                return File(path: path, result: Result { () throws(Diagnostics) in
                    try ManifestSet.load(path: path, fileSystem: fileSystem)
                })
            })
        }
    }

    /// The names a manifest loader reads: .yaml, .yml and .json, without hidden
    /// files (editor swap files, and the `..data` links of a mounted ConfigMap).
    public static func manifestNames(_ names: [String]) -> [String] {
        names.filter { name in
            !name.hasPrefix(".") && [".yaml", ".yml", ".json"].contains { name.hasSuffix($0) }
        }.sorted()
    }
}
