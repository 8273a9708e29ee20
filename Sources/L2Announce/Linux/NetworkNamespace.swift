import BallastCore
import Glibc

/// A network namespace to do kernel work in: sockets and /proc/sys/net files
/// opened inside it belong to it, and keep doing so on any thread afterwards.
/// Setting one on the Linux implementations lets tests (and a daemon serving
/// another namespace) run the announcer without leaving the caller's own
/// namespace: each call runs on a short-lived thread that enters the namespace
/// with setns(2), which changes only the calling thread.
public struct NetworkNamespace: Sendable, Hashable, CustomStringConvertible {
    /// A bind-mounted namespace file, as `ip netns add NAME` makes /run/netns/NAME.
    public var path: String

    public init(path: String) { self.path = path }

    /// The namespace `ip netns` knows as `name`.
    public init(named name: String) { self.path = "/run/netns/\(name)" }

    public var description: String { path }

    /// Runs `body` on a new thread inside this namespace and returns its result.
    func perform<T>(_ body: @escaping @Sendable () throws(DataPlaneError) -> T) throws(DataPlaneError) -> T {
        let path = self.path
        let box = ResultBox<T>()
        let created = runOnNewThread {
            box.result = Result { () throws(DataPlaneError) -> T in
                let fd = try systemCall("open network namespace \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
                defer { Glibc.close(fd) }
                try systemCall("enter network namespace \(path)") { setNamespace(fd, Kernel.cloneNewNet) }
                return try body()
            }
        }
        guard created == 0, let result = box.result else {
            throw DataPlaneError(operation: "start a thread for network namespace \(path)", errno: created,
                                 reason: describeErrno(created))
        }
        return try result.get()
    }
}

/// Written by the namespace thread, read after pthread_join, which orders the accesses.
private final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, DataPlaneError>?
}

private final class ThreadWork {
    let work: @Sendable () -> Void
    init(_ work: @escaping @Sendable () -> Void) { self.work = work }
}

/// Runs `work` on a new POSIX thread and waits for it to finish. Returns
/// pthread_create's error, 0 on success.
private func runOnNewThread(_ work: @escaping @Sendable () -> Void) -> Int32 {
    var thread = pthread_t()
    let context = Unmanaged.passRetained(ThreadWork(work)).toOpaque()
    let created = pthread_create(&thread, nil, { context in
        Unmanaged<ThreadWork>.fromOpaque(context!).takeRetainedValue().work()
        return nil
    }, context)
    guard created == 0 else {
        Unmanaged<ThreadWork>.fromOpaque(context).release()
        return created
    }
    pthread_join(thread, nil)
    return 0
}

extension Optional where Wrapped == NetworkNamespace {
    /// Runs `body` in the namespace, or right here when there is none.
    func perform<T>(_ body: @escaping @Sendable () throws(DataPlaneError) -> T) throws(DataPlaneError) -> T {
        switch self {
        case .some(let namespace): try namespace.perform(body)
        case .none: try body()
        }
    }
}
