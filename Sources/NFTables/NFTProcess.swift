// Whole-table writes in a child `nft` process.
//
// libnftables parses a script into many small objects: writing the SNAT
// table of 10,000 Services (90,000 set elements) made 1.35 million
// allocations and 78 MB of ballastd's heap at the peak (heaptrack, in the
// kernel VM). Freed afterwards, they left the heap's free space in pieces
// among long-lived objects; malloc_trim gave the pages back, but the
// allocations that followed were carved out of those pieces a page at a time,
// and a cold start's resident size rose by 6–10 MiB in the seconds after
// READY, where it then stayed. `nft -f` is the same libnftables in a process
// of its own, whose memory goes when it exits; the table is still written in
// one transaction. It runs on the calling thread's network namespace, which a
// child inherits, and with the daemon's capabilities (the unit's ambient
// CAP_NET_ADMIN). Reads and element updates, which are small, stay in process.
import BallastCore
import CNftables
import Glibc

enum NFTProcess {
    /// Where Debian's `nftables` package installs the nft CLI.
    static let candidates = ["/usr/sbin/nft", "/sbin/nft"]

    /// The nft executable, or nil when none is installed (the caller then
    /// runs the script through libnftables in process).
    static var executable: String? { candidates.first { access($0, X_OK) == 0 } }

    /// Runs `script` with `nft -f` and waits for it; throws with what nft
    /// reported when it fails. The script reaches nft as a memory file (no
    /// pipe to keep fed, no temporary file), its output comes back the same way.
    static func run(_ script: String, executable: String, operation: String) throws(DataPlaneError) {
        let input = try memoryFile(named: "ballast-nft-script", operation: operation)
        defer { close(input) }
        let output = try memoryFile(named: "ballast-nft-output", operation: operation)
        defer { close(output) }
        try writeAll(script, to: input, operation: operation)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // dup2 clears close-on-exec: nft reads the script as its fd 3.
        posix_spawn_file_actions_adddup2(&actions, input, 3)
        let arguments = [executable, "-f", "/proc/self/fd/3"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }

        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, &argv, Glibc.environ)
        guard spawned == 0 else {
            throw failure(operation, "cannot start \(executable)", errno: spawned)
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else {
                throw failure(operation, "cannot wait for \(executable)", errno: errno)
            }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
        let signal = status & 0x7f
        let code = (status >> 8) & 0xff
        guard signal != 0 || code != 0 else { return }
        let printed = readAll(output)
        let cause = signal != 0 ? "\(executable) was killed by signal \(signal)" : "\(executable) exited with status \(code)"
        throw DataPlaneError(operation: operation,
                             reason: printed.isEmpty ? cause : NFTContext.summarize(printed))
    }

    /// A failed system call of the run, with its errno kept beside the text.
    private static func failure(_ operation: String, _ what: String, errno code: Int32) -> DataPlaneError {
        DataPlaneError(operation: operation, errno: code, reason: "\(what): \(String(cString: strerror(code)))")
    }

    private static func memoryFile(named name: String, operation: String) throws(DataPlaneError) -> Int32 {
        let fd = ballast_memfd_create(name, BALLAST_MFD_CLOEXEC)
        guard fd >= 0 else {
            throw failure(operation, "memfd_create", errno: errno)
        }
        return fd
    }

    private static func writeAll(_ text: String, to fd: Int32, operation: String) throws(DataPlaneError) {
        var text = text
        let failed: Int32? = text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += written
            }
            return nil
        }
        if let failed {
            throw failure(operation, "cannot write the nft script", errno: failed)
        }
        lseek(fd, 0, SEEK_SET)
    }

    private static func readAll(_ fd: Int32) -> String {
        lseek(fd, 0, SEEK_SET)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += chunk[..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
