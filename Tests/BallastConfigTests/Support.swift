import BallastCore
import Foundation
import Testing
@testable import BallastConfig

/// Test inputs: fixture files, the repository's configs/, and in-memory file systems.
enum Fixture {
    static let directory = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")

    /// The text of Fixtures/<name>.
    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    /// The repository root (configs/ lives there), found from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A file system holding `files` (path → text); directories are implied by the paths.
    static func fileSystem(_ files: [String: String]) -> FileSystem {
        FileSystem(
            entry: { path in
                if files[path] != nil { return .file }
                let prefix = path.hasSuffix("/") ? path : path + "/"
                return files.keys.contains { $0.hasPrefix(prefix) } ? .directory : .missing
            },
            read: { path in
                files[path].map { .success($0) } ?? .failure(FileSystem.FileProblem(reason: "no such file"))
            },
            list: { path in
                let prefix = path.hasSuffix("/") ? path : path + "/"
                let names = files.keys.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
                    .filter { !$0.contains("/") }
                return names.isEmpty ? .failure(FileSystem.FileProblem(reason: "no such directory")) : .success(names)
            })
    }

    /// Fixture files, each at the path "<name>" in an in-memory file system.
    static func fileSystem(fixtures names: [String]) throws -> FileSystem {
        fileSystem(Dictionary(uniqueKeysWithValues: try names.map { ($0, try text($0)) }))
    }
}

/// The printed findings of a rejected input, or of an accepted one's warnings.
func messages(_ body: () throws(Diagnostics) -> Any) -> [String] {
    do throws(Diagnostics) {
        _ = try body()
        return []
    } catch {
        return error.all.map(\.description)
    }
}

/// Swift Testing has a SourceLocation of its own.
typealias Location = BallastCore.SourceLocation
