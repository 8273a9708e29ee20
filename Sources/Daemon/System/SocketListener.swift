// A listening socket served by one dedicated thread. The daemon's two
// servers (status API, metrics) get a handful of short requests a minute, so
// connections are handled one at a time with send/receive timeouts: a client
// that stalls costs at most `ioTimeout`, and no blocking call ever runs on the
// Swift concurrency pool (2 cores: blocking one of its threads would stall the
// reconcile loop).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import BallastCore
import FoundationEssentials
import Logging
import Synchronization

final class SocketListener: Sendable {
    let name: String
    private let listenFD: Int32
    private let stopWrite: Mutex<Int32?>
    private let stopRead: Int32

    /// Takes ownership of a bound, listening socket.
    init(name: String, listening fd: Int32) throws(SystemCallError) {
        var fds: [Int32] = [0, 0]
        try systemCall("pipe for \(name)") { pipe(&fds) }
        for f in fds { _ = fcntl(f, F_SETFD, FD_CLOEXEC) }
        self.name = name
        listenFD = fd
        stopRead = fds[0]
        stopWrite = Mutex(fds[1])
    }

    /// Serves connections on a new thread until `stop()`. `handle` gets a
    /// connected socket with timeouts set, and must not close it.
    func start(ioTimeout: Duration = .seconds(2), logger: Logger, handle: @escaping @Sendable (Int32) -> Void) {
        let error = startDedicatedThread(named: "ballast-\(name)") { [listenFD, stopRead, name] in
            defer {
                closeDescriptor(listenFD)
                closeDescriptor(stopRead)
            }
            while true {
                var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: stopRead, events: Int16(POLLIN), revents: 0)]
                let ready = poll(&fds, 2, -1)
                if ready < 0 {
                    if errno == EINTR { continue }
                    logger.error("\(name) stopped: poll failed", metadata: ["error": "\(SystemCallError(operation: "poll", errno: errno))"])
                    return
                }
                if fds[1].revents != 0 { return }
                guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
                let connection = accept(listenFD, nil, nil)
                if connection < 0 {
                    // ECONNABORTED and friends concern one client; EMFILE should pass. Keep serving.
                    if errno != EINTR && errno != EAGAIN && errno != ECONNABORTED {
                        logger.warning("\(name): accept failed", metadata: ["error": "\(SystemCallError(operation: "accept", errno: errno))"])
                        usleep(100_000)
                    }
                    continue
                }
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                setTimeouts(connection, ioTimeout)
                handle(connection)
                closeDescriptor(connection)
            }
        }
        if error != 0 {
            logger.error("\(name) not served: no thread", metadata: [
                "error": "\(SystemCallError(operation: "pthread_create", errno: error))",
            ])
            closeDescriptor(listenFD)
            closeDescriptor(stopRead)
        }
    }

    /// Wakes the thread, which closes the listening socket and exits.
    func stop() {
        stopWrite.withLock { fd in
            guard let write = fd else { return }
            closeDescriptor(write)
            fd = nil
        }
    }
}

func setTimeouts(_ fd: Int32, _ timeout: Duration) {
    let (seconds, attoseconds) = timeout.components
    var tv = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
}

/// Reads until `delimiter` (included in the result), end of stream, or `limit` bytes.
/// Returns nil on a timeout or error before any complete message.
func readMessage(_ fd: Int32, until delimiter: [UInt8], limit: Int) -> [UInt8]? {
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while data.count < limit {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { return data.isEmpty ? nil : data }
        data.append(contentsOf: chunk[0..<n])
        if let range = data.firstRange(of: delimiter) { return Array(data[..<range.upperBound]) }
    }
    return nil
}

/// Writes everything or throws; MSG_NOSIGNAL so a client that hung up gives EPIPE, not SIGPIPE.
func writeAll(_ fd: Int32, _ bytes: [UInt8], what: String) throws(SystemCallError) {
    var offset = 0
    while offset < bytes.count {
        let n = try systemCall("send \(what)") {
            bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
        }
        offset += n
    }
}
