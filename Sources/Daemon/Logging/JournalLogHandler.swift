// Log lines for journald: standard error, one line per event, starting with
// the syslog priority in angle brackets ("<3>"), which journald strips and
// records as the entry's PRIORITY (SyslogLevelPrefix=yes is its default). So
// `journalctl -p err -u ballastd` shows exactly the errors, and no timestamp
// is printed because the journal stamps every line itself.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import Synchronization

public struct JournalLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.format(level: event.level, message: event.message.description, metadata: merged)
        Self.write(line)
    }

    /// "<6>sync finished sync.errors=0 sync.reason=resync": the message, then
    /// metadata sorted by key; values with spaces or quotes are quoted.
    public static func format(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var line = "<\(priority(level))>" + message.map { $0.isNewline ? " " : String($0) }.joined()
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(quoted(value.description))"
        }
        return line + "\n"
    }

    /// syslog(3) priorities, as journald reads them.
    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    static func quoted(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return text }
        var escaped = ""
        for c in text {
            switch c {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where c.isNewline: escaped += "\\n"
            default: escaped.append(c)
            }
        }
        return "\"\(escaped)\""
    }

    /// One write(2) per line, under a lock, so lines from different threads never interleave.
    private static let lock = Mutex(())

    static func write(_ line: String) {
        lock.withLock { _ in
            var bytes = Array(line.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

public enum LoggingBootstrap {
    /// Bootstraps swift-log for ballastd. Call once, from main only. Under
    /// systemd (stderr connected to the journal, $JOURNAL_STREAM set) lines
    /// carry syslog priorities; on a terminal they carry timestamps instead.
    public static func bootstrap(level: Logger.Level, environment: [String: String]) {
        let journal = stderrIsJournal(environment["JOURNAL_STREAM"])
        LoggingSystem.bootstrap { label in
            if journal { return JournalLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }

    /// $JOURNAL_STREAM is "DEVICE:INODE" of the journal's stream socket; the
    /// variable is inherited by children whose stderr may go elsewhere (a
    /// shell started from a service), so compare it with stderr itself.
    static func stderrIsJournal(_ value: String?) -> Bool {
        guard let parts = value?.split(separator: ":"), parts.count == 2,
              let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
