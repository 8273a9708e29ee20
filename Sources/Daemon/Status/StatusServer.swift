// The status API server: a Unix socket (never TCP: status includes the
// Service inventory, and a socket's file mode is its access control).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FoundationEssentials
import Logging

public final class StatusServer: Sendable {
    /// Largest request accepted; a request is one short JSON object.
    static let requestLimit = 64 * 1024

    public let path: String
    private let listener: SocketListener

    /// Binds the socket at `path` (mode 0660) and serves until `stop()`.
    /// `answer` runs on the server's thread: it must not block for long.
    public init(path: String, logger: Logger,
                answer: @escaping @Sendable (StatusRequest) -> StatusReply) throws(SystemCallError) {
        self.path = path
        let address = try UnixSocketAddress(path: path)
        try Self.removeStaleSocket(at: address)
        let fd = try systemCall("socket AF_UNIX for \(path)") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        do {
            try address.withSockaddr { sa, length throws(SystemCallError) in
                try systemCall("bind \(path)") { bind(fd, sa, length) }
            }
            // 0660: root and the socket's group may ask; nobody else may connect
            // (connecting to a Unix socket needs write permission on it).
            try systemCall("chmod \(path)") { chmod(path, 0o660) }
            try systemCall("listen \(path)") { listen(fd, 16) }
            listener = try SocketListener(name: "status", listening: fd)
        } catch {
            closeDescriptor(fd)
            unlink(path)
            throw error
        }
        let encoder = StatusCodec.encoder()
        let decoder = StatusCodec.decoder()
        listener.start(logger: logger) { connection in
            guard let line = readMessage(connection, until: [UInt8(ascii: "\n")], limit: Self.requestLimit) else { return }
            let reply: StatusReply
            do {
                let request = try decoder.decode(StatusRequest.self, from: Data(line))
                reply = answer(request)
            } catch {
                reply = .failure("bad request: \(AssignmentStore.describe(decodingError: error))")
            }
            let bytes = ((try? encoder.encode(reply)).map(Array.init) ?? Array(#"{"error":"cannot encode the reply"}"#.utf8))
            do {
                try writeAll(connection, bytes + [UInt8(ascii: "\n")], what: "status reply")
            } catch {
                logger.debug("status client went away", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stops serving and removes the socket file.
    public func stop() {
        listener.stop()
        unlink(path)
    }

    /// A socket file left by a daemon that crashed is removed; one that still
    /// answers means another ballastd runs, which must not be pre-empted.
    static func removeStaleSocket(at address: UnixSocketAddress) throws(SystemCallError) {
        var info = stat()
        guard lstat(address.path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw SystemCallError(operation: "bind \(address.path) (exists and is not a socket)", errno: EEXIST)
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return }
        defer { closeDescriptor(probe) }
        let connected = try address.withSockaddr { sa, length throws(SystemCallError) in connect(probe, sa, length) == 0 }
        if connected {
            throw SystemCallError(operation: "bind \(address.path) (another ballastd is serving it)", errno: EADDRINUSE)
        }
        unlink(address.path)
    }
}

/// Why ballastctl got no answer.
public enum StatusClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No socket file: the daemon is not running (or uses another path).
    case notRunning(path: String)
    /// A socket file nobody listens on: the daemon died without cleaning up.
    case noListener(path: String)
    case permissionDenied(path: String)
    case timedOut(path: String)
    case failed(SystemCallError)
    case badReply(String)

    public var description: String {
        switch self {
        case .notRunning(let path):
            "ballastd is not running (no socket at \(path)): start it with systemctl start ballastd"
        case .noListener(let path):
            "ballastd is not running (nothing listens on \(path)): start it with systemctl start ballastd, "
                + "and see journalctl -u ballastd for why it stopped"
        case .permissionDenied(let path):
            "permission denied on \(path): run ballastctl as root or as a member of the socket's group"
        case .timedOut(let path):
            "ballastd did not answer on \(path) in time: it may be overloaded or stuck; see journalctl -u ballastd"
        case .failed(let error):
            "\(error)"
        case .badReply(let why):
            "ballastd sent a reply ballastctl cannot read (\(why)); are ballastctl and ballastd the same version?"
        }
    }
}

/// Asks the daemon one question.
public struct StatusClient: Sendable {
    public static let defaultSocketPath = "/run/ballast/ballastd.sock"

    public var path: String
    public var timeout: Duration

    public init(path: String = StatusClient.defaultSocketPath, timeout: Duration = .seconds(10)) {
        self.path = path
        self.timeout = timeout
    }

    public func send(_ request: StatusRequest) throws(StatusClientError) -> StatusReply {
        let address: UnixSocketAddress
        do { address = try UnixSocketAddress(path: path) } catch { throw .failed(error) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed(SystemCallError(operation: "socket AF_UNIX", errno: errno)) }
        defer { closeDescriptor(fd) }
        setTimeouts(fd, timeout)
        do {
            try address.withSockaddr { sa, length throws(SystemCallError) in
                try systemCall("connect \(path)") { connect(fd, sa, length) }
            }
        } catch {
            switch error.errno {
            case ENOENT, ENOTDIR: throw .notRunning(path: path)
            case ECONNREFUSED: throw .noListener(path: path)
            case EACCES, EPERM: throw .permissionDenied(path: path)
            default: throw .failed(error)
            }
        }
        let line: [UInt8]
        do {
            line = Array(try StatusCodec.encoder().encode(request)) + [UInt8(ascii: "\n")]
        } catch {
            throw .badReply("cannot encode request: \(error)")
        }
        do {
            try writeAll(fd, line, what: "request to \(path)")
        } catch {
            throw .failed(error)
        }
        guard let reply = readMessage(fd, until: [UInt8(ascii: "\n")], limit: 64 * 1024 * 1024) else {
            if errno == EAGAIN || errno == EWOULDBLOCK { throw .timedOut(path: path) }
            throw .badReply("the connection closed without a reply")
        }
        do {
            return try StatusCodec.decoder().decode(StatusReply.self, from: Data(reply))
        } catch {
            throw .badReply(AssignmentStore.describe(decodingError: error))
        }
    }
}
