// Address assignments survive restarts: the allocator starts from the
// addresses Services had before, so a restart (or an upgrade) never moves a
// Service to another address. The file is written atomically (temp file in
// the same directory, fsync, rename, fsync of the directory) so a crash or
// power loss leaves either the old or the new version, never a torn one.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastCore
import FoundationEssentials

/// Every Service's assignment (pool and addresses, primary family first):
/// the allocator's memory. `Assignment` is BallastCore's.
public typealias AssignmentTable = [ObjectRef: Assignment]

/// The on-disk shape (version 1):
/// {"version":1,"assignments":[{"namespace":"default","name":"web","pool":"public","addresses":["192.0.2.10"]}]}
/// Sorted by namespace/name so that the file diffs cleanly between versions.
struct AssignmentFile: Codable, Equatable {
    struct Entry: Codable, Equatable {
        var namespace: String
        var name: String
        var pool: String
        var addresses: [IPAddress]
    }

    static let currentVersion = 1

    var version: Int
    var assignments: [Entry]

    init(table: AssignmentTable) {
        version = Self.currentVersion
        assignments = table.sorted { $0.key < $1.key }.map {
            Entry(namespace: $0.key.namespace, name: $0.key.name, pool: $0.value.pool, addresses: $0.value.addresses)
        }
    }

    func table() throws(StateFileError) -> AssignmentTable {
        guard version == Self.currentVersion else {
            throw .unsupportedVersion(version)
        }
        var table: AssignmentTable = [:]
        for entry in assignments {
            let ref = ObjectRef(namespace: entry.namespace, name: entry.name)
            guard !entry.namespace.isEmpty, !entry.name.isEmpty else { throw .invalid("an entry has an empty namespace or name") }
            guard table[ref] == nil else { throw .invalid("\(ref) appears twice") }
            table[ref] = Assignment(pool: entry.pool, addresses: entry.addresses)
        }
        return table
    }
}

/// Why a state file's contents were rejected.
public enum StateFileError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)
    case unsupportedVersion(Int)
    case invalid(String)

    public var description: String {
        switch self {
        case .malformed(let why): "not valid JSON of the expected shape: \(why)"
        case .unsupportedVersion(let v): "format version \(v) is not supported (this ballastd writes version \(AssignmentFile.currentVersion))"
        case .invalid(let why): why
        }
    }
}

/// Reads and writes `assignments.json` in the state directory.
public struct AssignmentStore: Sendable {
    public static let fileName = "assignments.json"

    public let directory: String
    public var path: String { directory + "/" + Self.fileName }

    public init(directory: String) {
        self.directory = directory
    }

    /// What `load` found.
    public enum LoadResult: Sendable, Equatable {
        /// No file yet: the first start on this node.
        case empty
        case loaded(AssignmentTable)
        /// The file could not be used. It was renamed to `keptAs` (nil if even
        /// that failed) so a person can inspect it, and the daemon starts with
        /// no memory of previous addresses.
        case corrupt(reason: String, keptAs: String?)
    }

    /// Reads the file. A file that exists but is unreadable for a reason other
    /// than its contents (permissions, I/O) is an error: starting without it
    /// would silently move Services to new addresses.
    public func load(now: Date = Date()) throws(SystemCallError) -> LoadResult {
        let bytes: [UInt8]
        do {
            bytes = try readWholeFile(path)
        } catch where error.errno == ENOENT {
            return .empty
        }
        let reason: String
        do {
            let file = try JSONDecoder().decode(AssignmentFile.self, from: Data(bytes))
            return .loaded(try file.table())
        } catch let error as StateFileError {
            reason = error.description
        } catch {
            reason = StateFileError.malformed(Self.describe(decodingError: error)).description
        }
        let aside = path + ".corrupt-" + Self.timestamp(now)
        let kept: String? = rename(path, aside) == 0 ? aside : nil
        return .corrupt(reason: reason, keptAs: kept)
    }

    /// The saved table without any side effect (a corrupt file stays where it
    /// is), or nil when there is none or it cannot be used: for reports such
    /// as `ballastd --check-config`, never for starting the daemon.
    public func peek() -> AssignmentTable? {
        guard let bytes = try? readWholeFile(path),
              let file = try? JSONDecoder().decode(AssignmentFile.self, from: Data(bytes)) else { return nil }
        return try? file.table()
    }

    /// Replaces the file atomically with `table`.
    public func save(_ table: AssignmentTable) throws(SystemCallError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do {
            data = try encoder.encode(AssignmentFile(table: table))
        } catch {
            // Encoding plain strings and numbers cannot fail; keep the error path typed anyway.
            throw SystemCallError(operation: "encode \(path)", errno: EINVAL)
        }
        try writeAtomically(Array(data) + [UInt8(ascii: "\n")], to: path, directory: directory)
    }

    static func describe(decodingError error: any Error) -> String {
        switch error as? DecodingError {
        case .dataCorrupted(let c)?: c.debugDescription + Self.at(c.codingPath)
        case .keyNotFound(let key, let c)?: "missing key \"\(key.stringValue)\"" + Self.at(c.codingPath)
        case .typeMismatch(_, let c)?: c.debugDescription + Self.at(c.codingPath)
        case .valueNotFound(_, let c)?: c.debugDescription + Self.at(c.codingPath)
        default: "\(error)"
        }
    }

    private static func at(_ path: [any CodingKey]) -> String {
        path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    /// UTC, sortable and free of characters that need quoting in a shell: 20240131T235959Z.
    static func timestamp(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}

/// Reads a whole file with open/read (no Foundation, so errno survives for the caller).
func readWholeFile(_ path: String) throws(SystemCallError) -> [UInt8] {
    let fd = try systemCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
    defer { closeDescriptor(fd) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = try systemCall("read \(path)") { chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
        if n == 0 { return result }
        result.append(contentsOf: chunk[0..<n])
    }
}

/// write temp → fsync → rename → fsync(directory). The temp file lives in the
/// same directory because rename(2) is only atomic within one filesystem; the
/// directory fsync makes the rename itself durable (ext4 and XFS may otherwise
/// lose it on power failure even though the data blocks were synced).
func writeAtomically(_ bytes: [UInt8], to path: String, directory: String, mode: mode_t = 0o644) throws(SystemCallError) {
    let temporary = "\(path).tmp-\(getpid())"
    let fd = try systemCall("create \(temporary)") { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
    var renamed = false
    defer { if !renamed { unlink(temporary) } }
    do {
        var offset = 0
        while offset < bytes.count {
            let n = try systemCall("write \(temporary)") {
                bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            }
            offset += n
        }
        try systemCall("fsync \(temporary)") { fsync(fd) }
    } catch {
        closeDescriptor(fd)
        throw error
    }
    closeDescriptor(fd)
    try systemCall("rename \(temporary) to \(path)") { rename(temporary, path) }
    renamed = true
    let dirFD = try systemCall("open directory \(directory)") { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
    defer { closeDescriptor(dirFD) }
    try systemCall("fsync directory \(directory)") { fsync(dirFD) }
}
