// The C calls of the file source, behind one door that retries EINTR and
// names the call and its object in the error.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastConfig

/// A failed call on the manifest directory or one of its files.
/// Prints as "open /etc/ballast/services/web.yaml: Permission denied".
public struct FileSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}

@discardableResult
func fileCall<T: FixedWidthInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws(FileSourceError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = errno
        if error == EINTR { continue }
        throw FileSourceError(operation: operation(), errno: error)
    }
}

/// A close-on-exec, non-blocking pipe (pipe2 needs _GNU_SOURCE, which the
/// Glibc module does not define; nothing forks between the calls).
func makeWakePipe(_ fds: inout [Int32]) throws(FileSourceError) {
    try fileCall("pipe") { pipe(&fds) }
    for fd in fds {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }
}

/// Which directory entries are manifests: BallastConfig's rule (.yaml,
/// .yml, .json; no hidden files), so that the watcher and `--check-config`
/// read the same files. Hidden files cover the temporary and swap files of
/// most editors (vim ".x.yaml.swp", emacs ".#x.yaml", the ".x.yaml.tmp" that
/// atomic writers rename over the real file) and the "..data" links of a
/// Kubernetes ConfigMap volume; the suffix test covers "x.yaml~" backups.
public func isManifestFileName(_ name: String) -> Bool {
    !name.contains("/") && ManifestDirectory.manifestNames([name]) == [name]
}

/// Manifests larger than this are refused rather than read into memory: no
/// hand-written Service list comes near it, a runaway generator might.
let maximumManifestSize = 16 * 1024 * 1024

enum ManifestRead {
    case contents(String)
    /// The file is gone (deleted, or renamed away before we got to it).
    case missing
    case problem(String)
}

/// Reads one manifest. Only regular files count: a directory or a FIFO with a
/// manifest-like name is a problem to report, not something to block on.
func readManifest(at path: String) -> ManifestRead {
    let fd: Int32
    do {
        fd = try fileCall("open \(path)") { open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
    } catch {
        return error.errno == ENOENT ? .missing : .problem(error.description)
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { return .problem(FileSourceError(operation: "stat \(path)", errno: errno).description) }
    guard info.st_mode & S_IFMT == S_IFREG else { return .problem("\(path): not a regular file") }
    guard info.st_size <= maximumManifestSize else {
        return .problem("\(path): \(info.st_size) bytes is larger than the \(maximumManifestSize)-byte limit for a manifest")
    }
    if let text = try? readASCII(fd, path, size: Int(info.st_size)) { return .contents(text) }
    // Not ASCII, or the file changed since fstat: read it again from the start.
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n: Int
        do {
            n = try fileCall("read \(path)") {
                chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(bytes.count)) }
            }
        } catch {
            return .problem(error.description)
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
        if bytes.count > maximumManifestSize {
            return .problem("\(path): larger than the \(maximumManifestSize)-byte limit for a manifest")
        }
    }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        return .problem("\(path): not UTF-8 text")
    }
    return .contents(text)
}

/// The common case of a manifest: ASCII text, read with one read(2) straight
/// into the String's storage (a regular file reads short only at its end, so
/// asking for one byte more than fstat's size sees the end). Nil when the
/// text is not ASCII — then it must be validated as UTF-8, which building a
/// String this way does not do (it repairs) — or when the file grew. Reading
/// 10,000 manifests at start-up through a byte array cost an eighth of the CPU.
private func readASCII(_ fd: Int32, _ path: String, size: Int) throws(FileSourceError) -> String? {
    var result: Result<Int, FileSourceError> = .success(0)
    var complete = false
    let text = String(unsafeUninitializedCapacity: size + 1) { buffer -> Int in
        result = Result { () throws(FileSourceError) in
            try fileCall("read \(path)") { read(fd, buffer.baseAddress, buffer.count) }
        }
        guard case .success(let n) = result else { return 0 }
        complete = n <= size && isASCII(UnsafeBufferPointer(rebasing: buffer[..<n]))
        return complete ? n : 0
    }
    _ = try result.get()
    return complete ? text : nil
}

/// Whether every byte is below 0x80, eight at a time.
private func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    let raw = UnsafeRawBufferPointer(bytes)
    var high: UInt64 = 0
    var i = 0
    while i + 8 <= raw.count {
        high |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
        i += 8
    }
    while i < raw.count {
        high |= UInt64(raw[i])
        i += 1
    }
    return high & 0x8080_8080_8080_8080 == 0
}

/// Manifest names in `directory`, sorted.
func listManifests(in directory: String) throws(FileSourceError) -> [String] {
    guard let dir = opendir(directory) else {
        throw FileSourceError(operation: "open directory \(directory)", errno: errno)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if isManifestFileName(name) { names.append(name) }
    }
    return names.sorted()
}
