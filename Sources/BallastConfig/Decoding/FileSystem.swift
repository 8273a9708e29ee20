import FoundationEssentials
import Glibc

/// The few file operations the loaders need, behind values so tests can
/// serve files from memory.
struct FileSystem: Sendable {
    enum Entry: Sendable { case file, directory, missing }

    var entry: @Sendable (_ path: String) -> Entry
    /// The file's text, or why it cannot be read ("no such file").
    var read: @Sendable (_ path: String) -> Result<String, FileProblem>
    /// Names in a directory, not recursive.
    var list: @Sendable (_ path: String) -> Result<[String], FileProblem>

    struct FileProblem: Error, Sendable, Equatable {
        var reason: String
    }

    static let local = FileSystem(
        entry: { path in
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return .missing }
            return isDirectory ? .directory : .file
        },
        read: { path in
            var isDirectory = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                return .failure(FileProblem(reason: "no such file"))
            }
            if isDirectory { return .failure(FileProblem(reason: "is a directory")) }
            guard let data = FileManager.default.contents(atPath: path) else {
                return .failure(FileProblem(reason: "cannot be read (permission denied?)"))
            }
            guard let text = String(data: data, encoding: .utf8) else {
                return .failure(FileProblem(reason: "is not UTF-8 text"))
            }
            return .success(text)
        },
        list: { path in
            do {
                return .success(try FileManager.default.contentsOfDirectory(atPath: path))
            } catch {
                return .failure(FileProblem(reason: "cannot be listed (\(cause(of: error)))"))
            }
        })

    /// The system's words for why a file operation failed ("No such file or directory").
    private static func cause(of error: any Error) -> String {
        guard let posix = (error as? CocoaError)?.underlying as? POSIXError else { return "\(error)" }
        return String(cString: strerror(posix.code.rawValue))
    }

    /// `path` as seen from the directory holding `file` (relative paths in a
    /// configuration file are relative to that file, not to the daemon's cwd).
    static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.hasPrefix("/"), let slash = file.lastIndex(of: "/") else { return path }
        return String(file[...slash]) + path
    }
}
