// The one door to the C library for the daemon's own sockets and files:
// every call goes through `systemCall`, which retries EINTR (a signal such as
// SIGHUP arriving mid-call must not fail a reload or a status request) and
// throws an error naming the call and its object.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A failed system call: what was attempted, on what, and the errno.
/// Prints as "bind /run/ballast/ballastd.sock: Permission denied (EACCES)".
public struct SystemCallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The call and its object, e.g. "bind /run/ballast/ballastd.sock".
    public var operation: String
    public var errno: Int32

    public init(operation: String, errno: Int32) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(errno)))\(Self.name(of: errno).map { " (\($0))" } ?? "")"
    }

    /// Symbolic names of the errno values these calls return in practice.
    static func name(of errno: Int32) -> String? {
        switch errno {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case EACCES: "EACCES"
        case EEXIST: "EEXIST"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case EMFILE: "EMFILE"
        case ENOSPC: "ENOSPC"
        case EROFS: "EROFS"
        case EPIPE: "EPIPE"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ECONNREFUSED: "ECONNREFUSED"
        case ECONNRESET: "ECONNRESET"
        case ETIMEDOUT: "ETIMEDOUT"
        default: nil
        }
    }
}

/// Runs `body` until it returns something other than -1 with EINTR.
/// - Parameter operation: names the call and its object for the error.
@discardableResult
func systemCall<T: FixedWidthInteger>(_ operation: @autoclosure () -> String,
                                      _ body: () -> T) throws(SystemCallError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = errno
        if error == EINTR { continue }
        throw SystemCallError(operation: operation(), errno: error)
    }
}

/// Closes a descriptor, ignoring errors: after close(2) fails the descriptor
/// is released anyway on Linux, and retrying on EINTR could close a reused one.
func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
