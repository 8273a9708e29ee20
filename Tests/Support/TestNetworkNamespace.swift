import Foundation
import Glibc
import Synchronization

/// A fresh, empty network namespace for one test, so that tests never touch
/// the host's network and can run in parallel.
///
/// A network namespace belongs to a thread, not a process: a helper thread
/// calls unshare(CLONE_NEWNET) and keeps a file descriptor of its namespace,
/// which keeps it alive. `run` executes code on a new thread that first joins
/// the namespace with setns() — a socket opened there stays in the namespace
/// for good, and the switch dies with the thread. `shell` runs a command
/// inside it through nsenter(1). Closing the descriptor (deinit) lets the
/// kernel free the namespace with everything in it once the last process in
/// it is gone.
public final class TestNetworkNamespace: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let fd: Int32

    /// The path naming this namespace for tools (`ip link set X netns PATH`,
    /// `nsenter --net=PATH`).
    public var path: String { "/proc/\(getpid())/fd/\(fd)" }

    /// Creates the namespace with its loopback link up, blocking the caller
    /// (for synchronous tests).
    public convenience init() throws {
        self.init(fd: try Self.blocking(Self.unshareOnThisThread))
        try shellSucceeds("ip", "link", "set", "lo", "up")
    }

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Creates the namespace with its loopback link up.
    public static func make() async throws -> TestNetworkNamespace {
        let namespace = TestNetworkNamespace(fd: try await suspending(unshareOnThisThread))
        try namespace.shellSucceeds("ip", "link", "set", "lo", "up")
        return namespace
    }

    /// Runs `body` on a thread inside this namespace.
    public func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws -> T {
        try await Self.suspending(joining(body))
    }

    /// Runs `body` on a thread inside this namespace, blocking the caller
    /// until it is done (for synchronous tests).
    public func inside<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) throws -> T {
        try Self.blocking(joining(body))
    }

    private func joining<T: Sendable, E: Error>(
        _ body: @escaping @Sendable () throws(E) -> T
    ) -> @Sendable () throws -> T {
        let fd = self.fd
        return {
            guard joinNetwork(fd) == 0 else { throw Failure(description: "setns: \(errnoText())") }
            return try body()
        }
    }

    /// Moves the calling thread into a new network namespace and returns a
    /// descriptor that keeps the namespace alive.
    @Sendable private static func unshareOnThisThread() throws -> Int32 {
        guard unshareNetwork() == 0 else { throw Failure(description: "unshare(CLONE_NEWNET): \(errnoText())") }
        let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "open /proc/thread-self/ns/net: \(errnoText())") }
        return fd
    }

    /// Runs a command inside this namespace.
    @discardableResult
    public func shell(_ arguments: String...) throws -> CommandResult {
        try shell(arguments)
    }

    public func shell(_ arguments: [String]) throws -> CommandResult {
        try Command.run(entering(arguments), check: false)
    }

    /// Runs a command inside this namespace; a non-zero exit throws with its
    /// output. Returns its standard output.
    @discardableResult
    public func shellSucceeds(_ arguments: String...) throws -> String {
        try shellSucceeds(arguments)
    }

    @discardableResult
    public func shellSucceeds(_ arguments: [String]) throws -> String {
        try Command.run(entering(arguments)).stdout
    }

    /// Starts a long-running command (a server) inside this namespace; the
    /// caller terminates it.
    public func spawn(_ arguments: String...) throws -> Process {
        try Command.spawn(entering(arguments))
    }

    /// Runs a command inside this namespace and decodes its JSON output
    /// (`ip -j`, `nft -j`).
    public func json(_ arguments: String...) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(shellSucceeds(arguments).utf8))
    }

    private func entering(_ arguments: [String]) -> [String] {
        ["nsenter", "--net=\(path)", "--"] + arguments
    }

    // Namespace switches happen on a thread of its own, never on one that
    // other work shares (a switched cooperative-pool thread would carry the
    // namespace into unrelated tasks); the thread ends with the body.

    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let outcome = Mutex<Result<T, any Error>?>(nil)
        let finished = DispatchSemaphore(value: 0)
        Thread {
            let result = Result<T, any Error> { try body() }
            outcome.withLock { $0 = result }
            finished.signal()
        }.start()
        finished.wait()
        return try outcome.withLock { $0! }.get()
    }

    private static func suspending<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

// Glibc declares unshare(2) and setns(2) only under _GNU_SOURCE, which the
// Swift Glibc module does not define; look them up in libc instead.
private let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET

private func unshareNetwork() -> Int32 {
    unsafeBitCast(dlsym(nil, "unshare"), to: (@convention(c) (Int32) -> Int32).self)(cloneNewNet)
}

private func joinNetwork(_ fd: Int32) -> Int32 {
    unsafeBitCast(dlsym(nil, "setns"), to: (@convention(c) (Int32, Int32) -> Int32).self)(fd, cloneNewNet)
}
