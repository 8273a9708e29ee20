#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Writes to standard error, for diagnostics that must not mix with output.
enum Console {
    static func error(_ line: String) {
        // write(2) itself, unbuffered, as FileHandle.standardError did.
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let written = bytes[done...].withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            done += written
        }
    }
}

/// A failure already explained to the user in one sentence.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
