// sd_notify(3) without libsystemd: a Type=notify service tells systemd it is
// ready, reloading or stopping, and pets the watchdog, by sending one
// datagram of newline-separated KEY=VALUE lines to $NOTIFY_SOCKET.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One line of a notification (see sd_notify(3)).
public enum NotifyMessage: Sendable, Hashable {
    /// Start-up (or a reload) finished: systemd considers the unit active.
    case ready
    /// A reload began; must be followed by `.ready` when it ends.
    case reloading
    /// Graceful shutdown began.
    case stopping
    /// Watchdog keep-alive.
    case watchdog
    /// Free text shown by `systemctl status`.
    case status(String)
    /// CLOCK_MONOTONIC in microseconds; systemd ≥ 253 requires it next to
    /// RELOADING=1 for Type=notify-reload, and older versions ignore it.
    case monotonicMicroseconds(UInt64)

    /// The line as systemd reads it. A newline would end the line early and
    /// turn the rest of a status text into a bogus assignment, so it is folded.
    public var line: String {
        switch self {
        case .ready: "READY=1"
        case .reloading: "RELOADING=1"
        case .stopping: "STOPPING=1"
        case .watchdog: "WATCHDOG=1"
        case .status(let text):
            "STATUS=" + String(text.map { $0.isNewline ? " " : $0 })
        case .monotonicMicroseconds(let usec): "MONOTONIC_USEC=\(usec)"
        }
    }
}

/// Sends notifications to the service manager, or does nothing when the
/// process was not started with $NOTIFY_SOCKET (run by hand, Type=simple).
public struct SystemdNotifier: Sendable {
    /// The socket from $NOTIFY_SOCKET: a path, or "@name" for an abstract socket.
    public let socketPath: String?

    public init(environment: [String: String]) {
        let value = environment["NOTIFY_SOCKET"] ?? ""
        // systemd only ever passes an absolute path or an abstract name;
        // anything else (say, a relative path left by a wrapper) is ignored as sd_notify does.
        socketPath = value.hasPrefix("/") || value.hasPrefix("@") ? value : nil
    }

    public var isEnabled: Bool { socketPath != nil }

    /// Sends `messages` as one datagram, so systemd applies them together
    /// (RELOADING=1 with its MONOTONIC_USEC, READY=1 with its STATUS).
    public func notify(_ messages: [NotifyMessage]) throws(SystemCallError) {
        guard let socketPath, !messages.isEmpty else { return }
        let address = try UnixSocketAddress(path: socketPath)
        let payload = Array((messages.map(\.line).joined(separator: "\n") + "\n").utf8)
        let fd = try systemCall("socket AF_UNIX SOCK_DGRAM for \(socketPath)") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        defer { closeDescriptor(fd) }
        try address.withSockaddr { sa, length throws(SystemCallError) in
            let sent = try systemCall("send notification to \(socketPath)") {
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
            guard sent == payload.count else {
                throw SystemCallError(operation: "send notification to \(socketPath) (short write)", errno: EMSGSIZE)
            }
        }
    }

    public func notify(_ messages: NotifyMessage...) throws(SystemCallError) {
        try notify(messages)
    }

    /// RELOADING=1 stamped with the monotonic clock, as systemd ≥ 253 wants.
    public func notifyReloading() throws(SystemCallError) {
        try notify(.reloading, .monotonicMicroseconds(Self.monotonicMicroseconds()))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    /// How often to send WATCHDOG=1: half of $WATCHDOG_USEC, the margin
    /// sd_watchdog_enabled(3) recommends. nil when the watchdog is off or
    /// meant for another process ($WATCHDOG_PID names a different pid, as
    /// after a fork in a wrapper script).
    public static func watchdogInterval(environment: [String: String], pid: Int32 = getpid()) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let pidText = environment["WATCHDOG_PID"], Int32(pidText) != pid { return nil }
        return .microseconds(usec / 2)
    }
}
