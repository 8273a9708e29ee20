import Foundation
import Glibc

/// A fresh, empty network namespace for one data-plane test, so that tests
/// never touch the host's network and can run in parallel.
///
/// A network namespace belongs to a thread, not a process: a helper thread
/// calls unshare(CLONE_NEWNET) and keeps a file descriptor of its namespace,
/// which keeps it alive. `run` executes code on a new thread that first joins
/// the namespace with setns(); `shell` runs a command inside it through
/// nsenter(1). Closing the descriptor (deinit) lets the kernel free the
/// namespace with everything in it once the last process in it is gone.
final class DataPlaneNetNamespace: Sendable {
    struct CommandResult: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let fd: Int32

    /// The path naming this namespace for tools (`ip link set X netns PATH`).
    var path: String { "/proc/\(getpid())/fd/\(fd)" }

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Creates the namespace with its loopback link up.
    static func make() async throws -> DataPlaneNetNamespace {
        let fd = try await onNewThread { () throws(Failure) -> Int32 in
            guard unshareNetwork() == 0 else { throw Failure(description: "unshare(CLONE_NEWNET): \(errnoText())") }
            let fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw Failure(description: "open /proc/thread-self/ns/net: \(errnoText())") }
            return fd
        }
        let namespace = DataPlaneNetNamespace(fd: fd)
        try namespace.shellSucceeds("ip", "link", "set", "lo", "up")
        return namespace
    }

    /// Runs `body` on a thread inside this namespace.
    func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws -> T {
        let fd = self.fd
        return try await Self.onNewThread { () throws -> T in
            guard joinNetwork(fd) == 0 else { throw Failure(description: "setns: \(errnoText())") }
            return try body()
        }
    }

    /// Runs a command inside this namespace.
    @discardableResult
    func shell(_ arguments: String...) throws -> CommandResult {
        try shell(arguments)
    }

    func shell(_ arguments: [String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        process.arguments = ["--net=\(path)", "--"] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: stdout, as: UTF8.self),
                             stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Starts a long-running command (a server) inside this namespace; the
    /// caller terminates it.
    func spawn(_ arguments: String...) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        process.arguments = ["--net=\(path)", "--"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs a command inside this namespace; a non-zero exit throws with its output.
    @discardableResult
    func shellSucceeds(_ arguments: String...) throws -> String {
        let result = try shell(arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)")
        }
        return result.stdout
    }

    /// Runs a command inside this namespace and decodes its JSON output (`ip -j`, `nft -j`).
    func json(_ arguments: String...) throws -> Any {
        let result = try shell(arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    private static func onNewThread<T: Sendable, E: Error>(
        _ body: @escaping @Sendable () throws(E) -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.start()
        }
    }
}

private func errnoText() -> String { String(cString: strerror(errno)) }

// Glibc declares unshare(2) and setns(2) only under _GNU_SOURCE, which the
// Swift Glibc module does not define; look them up in libc instead.
private typealias NamespaceCall = @convention(c) (Int32, Int32) -> Int32
private let cloneNewNet: Int32 = 0x4000_0000  // CLONE_NEWNET

private func unshareNetwork() -> Int32 {
    let call = unsafeBitCast(dlsym(nil, "unshare"), to: (@convention(c) (Int32) -> Int32).self)
    return call(cloneNewNet)
}

private func joinNetwork(_ fd: Int32) -> Int32 {
    unsafeBitCast(dlsym(nil, "setns"), to: NamespaceCall.self)(fd, cloneNewNet)
}
