import Daemon
import Foundation
import Testing

/// A datagram socket standing in for systemd's notification socket.
final class DatagramReceiver {
    let fd: Int32
    let name: String

    /// `name` is a path, or "@name" for an abstract socket.
    init(name: String) throws {
        self.name = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if name.hasPrefix("@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (name.hasPrefix("@") ? 0 : 1))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

@Suite struct SystemdNotifierTests {
    @Test func sendsToAPathSocket() throws {
        let dir = try TemporaryDirectory("ballast-notify")
        let receiver = try DatagramReceiver(name: dir.file("notify"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("notify")])
        #expect(notifier.isEnabled)

        try notifier.notify(.ready, .status("serving 3 Services"))
        #expect(receiver.receive() == "READY=1\nSTATUS=serving 3 Services\n")

        try notifier.notify(.stopping)
        #expect(receiver.receive() == "STOPPING=1\n")
    }

    @Test func sendsToAnAbstractSocket() throws {
        let name = "@ballast-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let receiver = try DatagramReceiver(name: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name])
        try notifier.notify(.watchdog)
        #expect(receiver.receive() == "WATCHDOG=1\n")
    }

    @Test func reloadingCarriesTheMonotonicClock() throws {
        let dir = try TemporaryDirectory("ballast-notify")
        let receiver = try DatagramReceiver(name: dir.file("notify"))
        try SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("notify")]).notifyReloading()
        let lines = receiver.receive()?.split(separator: "\n") ?? []
        #expect(lines.first == "RELOADING=1")
        #expect(lines.count == 2 && lines[1].hasPrefix("MONOTONIC_USEC=") && UInt64(lines[1].dropFirst(15)) != nil)
    }

    @Test func statusTextCannotInjectLines() {
        #expect(NotifyMessage.status("bad\nREADY=1").line == "STATUS=bad READY=1")
    }

    @Test(arguments: [[String: String](), ["NOTIFY_SOCKET": ""], ["NOTIFY_SOCKET": "relative/path"]])
    func disabledWithoutAUsableSocket(environment: [String: String]) throws {
        let notifier = SystemdNotifier(environment: environment)
        #expect(!notifier.isEnabled)
        try notifier.notify(.ready)  // a no-op, not an error
    }

    @Test func missingSocketIsAnErrorNamingIt() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/ballast-notify"])
        #expect {
            try notifier.notify(.ready)
        } throws: { error in
            "\(error)".hasPrefix("send notification to /nonexistent/ballast-notify: No such file or directory")
        }
    }

    @Test func watchdogIntervalIsHalfTheTimeout() {
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"]) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(getpid())"]) == .seconds(15))
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"], pid: 4242) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"]) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:]) == nil)
    }
}
