import BallastCore
import Glibc

/// The kernel settings the IPVS data plane depends on. Each is per network
/// namespace and is written only when it differs, so a node already set up
/// (or a read-only /proc/sys holding the right values) is not an error.
/// The ARP settings of the announcement interface (arp_ignore, arp_announce)
/// belong to the L2 announcer.
public enum DataPlaneSysctl {
    /// `net.ipv4.vs.conntrack` (IPv4 and IPv6 alike). Without it IPVS drops
    /// the netfilter conntrack entry of each connection it forwards, so the
    /// `masquerade` in Ballast's SNAT table has no connection to attach the
    /// source NAT to and the reply path is never rewritten: Cluster-policy
    /// connections to endpoints on other nodes time out. Exists only while
    /// the ip_vs module is loaded.
    public static let ipvsConntrack = "/proc/sys/net/ipv4/vs/conntrack"

    /// `net.ipv4.ip_forward` and `net.ipv6.conf.all.forwarding`. IPVS NAT sends
    /// requests from LOCAL_IN, which needs no forwarding, but the endpoint's
    /// replies travel back to the client through the FORWARD path, where IPVS
    /// rewrites their source to the VIP: with forwarding off the kernel drops
    /// them before IPVS sees them.
    ///
    /// Caution for IPv6: with forwarding on, the kernel ignores router
    /// advertisements on interfaces whose accept_ra is 1; a node that learns
    /// its default route by SLAAC needs accept_ra=2 on its uplink.
    public static func forwardingPath(_ family: AddressFamily) -> String {
        family == .ipv4 ? "/proc/sys/net/ipv4/ip_forward" : "/proc/sys/net/ipv6/conf/all/forwarding"
    }

    public static func enableIPVSConntrack() throws(DataPlaneError) {
        try ensure(ipvsConntrack, is: "1", name: "net.ipv4.vs.conntrack")
    }

    public static func enableForwarding(_ family: AddressFamily) throws(DataPlaneError) {
        try ensure(forwardingPath(family), is: "1",
                   name: family == .ipv4 ? "net.ipv4.ip_forward" : "net.ipv6.conf.all.forwarding")
    }

    /// Writes `value` to the sysctl file at `path` unless it already holds it.
    static func ensure(_ path: String, is value: String, name: String) throws(DataPlaneError) {
        let operation = "set \(name)=\(value)"
        let current = try read(path, operation: operation)
        if current == value { return }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw sysctlError(operation, path: path) }
        defer { close(fd) }
        let bytes = Array((value + "\n").utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw sysctlError(operation, path: path) }
    }

    private static func read(_ path: String, operation: String) throws(DataPlaneError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw sysctlError(operation, path: path) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count >= 0 else { throw sysctlError(operation, path: path) }
        return String(decoding: buffer[..<count], as: UTF8.self).trimmingSuffixWhitespace()
    }

    private static func sysctlError(_ operation: String, path: String) -> DataPlaneError {
        let code = errno
        var reason = "\(path): \(String(cString: strerror(code)))"
        if code == ENOENT && path == ipvsConntrack { reason += " (is the ip_vs module loaded?)" }
        return DataPlaneError(operation: operation, errno: code, reason: reason)
    }
}

extension String {
    fileprivate func trimmingSuffixWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
