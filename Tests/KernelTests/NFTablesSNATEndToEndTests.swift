import BallastTestSupport
import BallastCore
import Foundation
import LinkAddress
import NFTables
import Testing

/// The proof that the SNAT table does its job with IPVS (kernel VM only: the
/// build machine's kernel has no IPVS). Three namespaces joined by veth:
///
///     client 198.51.100.2      node: VIPs on ballast0, IPVS masq     backend 203.0.113.2
///            2001:db8:c::2 ─── 198.51.100.1 / 2001:db8:c::1             2001:db8:b::2
///                              203.0.113.1  / 2001:db8:b::1 ─────── (no route to the client)
///
/// The backend stands for an endpoint on another node (Cluster traffic
/// policy): it cannot route replies to the client, so the connection only
/// works when the node source-NATs, and the backend then sees the node's address.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_KERNEL_TESTS"] == "1",
                "needs the kernel VM (IPVS, nf_tables, dummy, veth); set BALLAST_KERNEL_TESTS=1"))
struct NFTablesSNATEndToEndTests {
    static let vip4 = IPAddress("192.0.2.10")!
    static let vip6 = IPAddress("2001:db8::10")!
    static let backend4 = IPAddress("203.0.113.2")!
    static let backend6 = IPAddress("2001:db8:b::2")!
    static let nodeToBackend4 = IPAddress("203.0.113.1")!
    static let nodeToBackend6 = IPAddress("2001:db8:b::1")!

    struct Topology {
        var client: TestNetworkNamespace
        var node: TestNetworkNamespace
        var backend: TestNetworkNamespace
        var servers: [Process]
    }

    func build() async throws -> Topology {
        let client = try await TestNetworkNamespace.make()
        let node = try await TestNetworkNamespace.make()
        let backend = try await TestNetworkNamespace.make()
        try client.shellSucceeds("ip", "link", "add", "c0", "type", "veth", "peer", "name", "n0", "netns", node.path)
        try backend.shellSucceeds("ip", "link", "add", "b0", "type", "veth", "peer", "name", "n1", "netns", node.path)
        for (ns, link, addresses) in [
            (client, "c0", ["198.51.100.2/24", "2001:db8:c::2/64"]),
            (node, "n0", ["198.51.100.1/24", "2001:db8:c::1/64"]),
            (node, "n1", ["203.0.113.1/24", "2001:db8:b::1/64"]),
            (backend, "b0", ["203.0.113.2/24", "2001:db8:b::2/64"]),
        ] {
            for address in addresses {
                try ns.shellSucceeds("ip", "addr", "add", address, "dev", link, "nodad")
            }
            try ns.shellSucceeds("ip", "link", "set", link, "up")
        }
        // The client reaches the VIPs through the node; the backend has no
        // route back to the client at all.
        try client.shellSucceeds("ip", "route", "add", "192.0.2.0/24", "via", "198.51.100.1")
        try client.shellSucceeds("ip", "-6", "route", "add", "2001:db8::/64", "via", "2001:db8:c::1")

        let vips = try DummyLinkVIPs()
        try await node.run { () throws(DataPlaneError) in
            try vips.ensureLink()
            try vips.add(Self.vip4)
            try vips.add(Self.vip6)
            try DataPlaneSysctl.enableIPVSConntrack()
            try DataPlaneSysctl.enableForwarding(.ipv4)
            try DataPlaneSysctl.enableForwarding(.ipv6)
        }
        try node.shellSucceeds("ipvsadm", "-A", "-t", "192.0.2.10:80", "-s", "rr")
        try node.shellSucceeds("ipvsadm", "-a", "-t", "192.0.2.10:80", "-r", "203.0.113.2:8080", "-m")
        try node.shellSucceeds("ipvsadm", "-A", "-t", "[2001:db8::10]:80", "-s", "rr")
        try node.shellSucceeds("ipvsadm", "-a", "-t", "[2001:db8::10]:80", "-r", "[2001:db8:b::2]:8080", "-m")

        // Each connection is answered with the source address the backend
        // sees. -t 20: the client half-closes at once (stdin is /dev/null) and
        // socat's default 0.5 s would cut the reply short on a slow VM.
        let servers = try [
            backend.spawn("socat", "-t", "20", "TCP4-LISTEN:8080,fork,reuseaddr", "SYSTEM:echo $SOCAT_PEERADDR"),
            backend.spawn("socat", "-t", "20", "TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1",
                          "SYSTEM:echo $SOCAT_PEERADDR"),
        ]
        for _ in 0..<60 {
            let listening = try backend.shellSucceeds("ss", "-Hltn", "sport = :8080")
            if listening.split(separator: "\n").count == 2 { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        return Topology(client: client, node: node, backend: backend, servers: servers)
    }

    /// What a client connecting to VIP:80 got.
    enum Outcome: Equatable, CustomStringConvertible {
        /// Connected; the backend saw this source address.
        case seen(IPAddress)
        /// The connection timed out: replies never reached the client.
        case timedOut
        /// Anything else (a test setup problem).
        case failed(String)

        var description: String {
            switch self {
            case .seen(let a): "backend saw \(a)"
            case .timedOut: "timed out"
            case .failed(let why): "failed: \(why)"
            }
        }
    }

    func connect(_ topology: Topology, to vip: IPAddress, port: UInt16 = 80) throws -> Outcome {
        let target = vip.family == .ipv4 ? "TCP4:\(vip):\(port)" : "TCP6:[\(vip)]:\(port)"
        // -t 20 as on the server: stdin is /dev/null, so the client half-closes
        // at once and would otherwise give the reply only 0.5 s.
        let result = try topology.client.shell("socat", "-t", "20", "-T", "20", "-", "\(target),connect-timeout=5")
        let text = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        if result.status != 0 && result.stderr.contains("Connection timed out") { return .timedOut }
        guard result.status == 0, let seen = IPAddress(text.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) else {
            return .failed("exit \(result.status), output \"\(text)\", \(result.stderr)")
        }
        return .seen(seen)
    }

    @Test func clusterPolicyConnectionsWorkWithTheSNATTableAndOnlyWithIt() async throws {
        let topology = try await build()
        defer { topology.servers.forEach { $0.terminate() } }

        // IPVS forwards, but the backend's replies go nowhere.
        #expect(try connect(topology, to: Self.vip4) == .timedOut)
        #expect(try connect(topology, to: Self.vip6) == .timedOut)

        let rules = [
            SNATRule(address: Self.vip4, port: 80, protocol: .tcp, destinations: [Self.backend4]),
            SNATRule(address: Self.vip6, port: 80, protocol: .tcp, destinations: [Self.backend6]),
        ]
        let snat = try NFTablesSNAT()
        let readBack = try await topology.node.run { () throws(DataPlaneError) in
            try SNATReconcile.apply(desired: rules, to: snat)
            return try snat.current()
        }
        #expect(readBack == SNATTable(rules: rules))
        #expect(try connect(topology, to: Self.vip4) == .seen(Self.nodeToBackend4))
        #expect(try connect(topology, to: Self.vip6) == .seen(Self.nodeToBackend6))

        // A Local-policy Service on another port of the same VIP, forwarded
        // to the same backend address: its port is not in the mark set, so
        // the (VIP, backend) pair alone does not masquerade it.
        try topology.node.shellSucceeds("ipvsadm", "-A", "-t", "192.0.2.10:443", "-s", "rr")
        try topology.node.shellSucceeds("ipvsadm", "-a", "-t", "192.0.2.10:443", "-r", "203.0.113.2:8080", "-m")
        #expect(try connect(topology, to: Self.vip4, port: 443) == .timedOut)
        #expect(try connect(topology, to: Self.vip4) == .seen(Self.nodeToBackend4))

        // Masquerade applies only towards the rule's own destinations, matched
        // after IPVS chose the real server; the change is an element update.
        let elsewhere = [
            SNATRule(address: Self.vip4, port: 80, protocol: .tcp, destinations: [IPAddress("203.0.113.99")!]),
            SNATRule(address: Self.vip6, port: 80, protocol: .tcp, destinations: [IPAddress("2001:db8:b::99")!]),
        ]
        let handles = try topology.node.shellSucceeds("nft", "-a", "list", "chain", "inet", "ballast", "postrouting")
        try await topology.node.run { () throws(DataPlaneError) in
            #expect(SNATReconcile.write(from: try snat.current(), to: SNATTable(rules: elsewhere)) != .replaced)
            try SNATReconcile.apply(desired: elsewhere, to: snat)
        }
        #expect(try topology.node.shellSucceeds("nft", "-a", "list", "chain", "inet", "ballast", "postrouting") == handles)
        #expect(try connect(topology, to: Self.vip4) == .timedOut)
        #expect(try connect(topology, to: Self.vip6) == .timedOut)

        // And back, by update again.
        _ = try await topology.node.run { () throws(DataPlaneError) in try SNATReconcile.apply(desired: rules, to: snat) }
        #expect(try connect(topology, to: Self.vip4) == .seen(Self.nodeToBackend4))
    }
}
