// Running command-line tools from tests that check Ballast against the real
// kernel: ip, ipvsadm, nft, arping, tcpdump read back what Ballast wrote, as
// an independent view of the kernel's state.

import Foundation
import Synchronization

/// What a finished command printed, and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Both streams, standard output first: for messages in assertions.
    public var output: String { stdout + stderr }
}

/// A command that exited non-zero where success was required.
public struct CommandFailure: Error, CustomStringConvertible {
    public var arguments: [String]
    public var result: CommandResult

    public var description: String {
        "\(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)"
    }
}

public enum Command {
    /// Runs a command (looked up in PATH) to completion. With `check`, a
    /// non-zero exit throws CommandFailure carrying its output.
    @discardableResult
    public static func run(_ arguments: [String], check: Bool = true) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Standard error is drained on another thread: a command that fills
        // one pipe while we block reading the other would never finish.
        let errors = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        let reader = err.fileHandleForReading
        Thread {
            let data = reader.readDataToEndOfFile()
            errors.withLock { $0 = data }
            drained.signal()
        }.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        let result = CommandResult(status: process.terminationStatus,
                                   stdout: String(decoding: stdout, as: UTF8.self),
                                   stderr: errors.withLock { String(decoding: $0, as: UTF8.self) })
        if check && result.status != 0 { throw CommandFailure(arguments: arguments, result: result) }
        return result
    }

    /// Starts a long-running command (a server, a capture) with its output
    /// discarded; the caller terminates it.
    public static func spawn(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}
