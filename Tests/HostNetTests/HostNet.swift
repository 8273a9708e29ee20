import BallastCore
import BallastTestSupport
import Foundation
import L2Announce
import L2Frames
import Logging
import Testing

/// Host network tests run only when asked (BALLAST_ROOT_TESTS=1); then a
/// missing privilege or tool is a failure, never a skip.
let rootTestsEnabled = ProcessInfo.processInfo.environment["BALLAST_ROOT_TESTS"] == "1"

func requireRootAndTools() throws {
    try #require(geteuid() == 0, "host network tests need root (BALLAST_ROOT_TESTS=1 is set)")
    for tool in ["ip", "arping", "ndisc6", "tcpdump"] {
        let found = try Command.run(["sh", "-c", "command -v \(tool)"], check: false)
        try #require(found.status == 0, "\(tool) is missing (Debian packages iproute2, arping, ndisc6, tcpdump)")
    }
}

/// Network namespaces joined by veth, torn down by `destroy()`. Names carry
/// the task prefix and a random suffix, so parallel runs never collide.
final class Topology {
    let suffix = String(UInt32.random(in: 0...0xffff_ffff), radix: 16)
    private(set) var namespaces: [String] = []

    func namespace(_ role: String) throws -> String {
        let name = "l2-\(role)-\(suffix)"
        try Command.run(["ip", "netns", "add", name])
        namespaces.append(name)
        // No duplicate address detection: addresses are usable at once, and
        // link-local addresses exist before the first ndisc6 runs.
        try Command.run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0",
                 "net.ipv6.conf.all.accept_dad=0"])
        try Command.run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name
    }

    /// A veth pair: `name` in `node`, `peerName` in `peer`.
    func link(_ node: String, _ name: String, mac: String, to peer: String, _ peerName: String) throws {
        try Command.run(["ip", "-n", node, "link", "add", name, "address", mac, "type", "veth",
                 "peer", "name", peerName, "netns", peer])
        try Command.run(["ip", "-n", node, "link", "set", name, "up"])
        try Command.run(["ip", "-n", peer, "link", "set", peerName, "up"])
    }

    func address(_ namespace: String, _ interface: String, _ cidr: String) throws {
        try Command.run(["ip", "-n", namespace, "addr", "add", cidr, "dev", interface] + (cidr.contains(":") ? ["nodad"] : []))
    }

    /// Ballast's VIP link: a NOARP link holding the VIPs as host addresses.
    /// Production uses a dummy link, but this host's kernel has no dummy
    /// driver (and no modules), so a veth end with ARP off stands in: to the
    /// kernel and the announcer the addresses are just as local, the link just
    /// as NOARP.
    func vipLink(_ namespace: String, addresses: [String]) throws {
        try Command.run(["ip", "-n", namespace, "link", "add", "ballast0", "type", "veth", "peer", "name", "ballast0p"])
        try Command.run(["ip", "-n", namespace, "link", "set", "ballast0", "arp", "off", "up"])
        for address in addresses {
            try Command.run(["ip", "-n", namespace, "addr", "add", address, "dev", "ballast0"]
                    + (address.contains(":") ? ["nodad"] : []))
        }
    }

    func sysctl(_ namespace: String, _ key: String) throws -> String {
        try Command.run(["ip", "netns", "exec", namespace, "sysctl", "-n", key]).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func destroy() {
        for name in namespaces.reversed() { _ = try? Command.run(["ip", "netns", "del", name], check: false) }
        namespaces = []
    }
}

/// An announcer in a node namespace, running until `stop()`.
struct RunningAnnouncer {
    let announcer: L2Announcer
    let task: Task<Void, any Error>

    init(namespace: String, settings: L2AnnounceSettings) async throws {
        let ns = NetworkNamespace(named: namespace)
        var logger = Logger(label: "hostnet.l2")
        logger.logLevel = .warning
        let announcer = L2Announcer(settings: settings, logger: logger,
                                    interfaces: LinuxInterfaceDirectory(namespace: ns),
                                    packets: LinuxPacketNetwork(namespace: ns))
        self.announcer = announcer
        task = Task { try await announcer.run() }
        // The first scan sets the ARP sysctls; wait for it so the kernel is quiet.
        let deadline = ContinuousClock.now + .seconds(10)
        while try Command.run(["ip", "netns", "exec", namespace, "sysctl", "-n", "net.ipv4.conf.eth0.arp_ignore"])
            .output.trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
            try #require(ContinuousClock.now < deadline, "announcer did not start")
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() async throws {
        task.cancel()
        try await task.value
    }
}

/// MACs that answered `arping` for `address`, one entry per reply.
func arping(in namespace: String, interface: String, _ address: String, count: Int = 3) throws -> [String] {
    let result = try Command.run(["ip", "netns", "exec", namespace, "arping", "-c", "\(count)", "-W", "0.3",
                          "-I", interface, address], check: false)
    // "42 bytes from 02:b1:00:00:00:01 (198.51.100.10): index=0 time=61.2 usec"
    return result.output.split(separator: "\n").compactMap { line in
        let words = line.split(separator: " ")
        guard words.count > 4, words[1] == "bytes", words[2] == "from" else { return nil }
        return String(words[3])
    }
}

/// The target link-layer address `ndisc6` resolved `address` to, or nil.
func ndisc6(in namespace: String, interface: String, _ address: String) throws -> String? {
    let result = try Command.run(["ip", "netns", "exec", namespace, "ndisc6", "-1", "-r", "3", "-w", "300",
                          address, interface], check: false)
    // "Target link-layer address: 02:B1:00:00:00:01"
    guard result.status == 0, let line = result.output.split(separator: "\n")
        .first(where: { $0.hasPrefix("Target link-layer address:") }) else { return nil }
    return line.split(separator: " ").last.map { $0.lowercased() }
}
