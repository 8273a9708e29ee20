import BallastTestSupport
import BallastCore
import Foundation
import Glibc
import LinkAddress
import Testing

/// DummyLinkVIPs against a real kernel, each test in its own network
/// namespace, checked with iproute2 as an independent reader.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_KERNEL_TESTS"] == "1",
                "needs root and network namespaces; set BALLAST_KERNEL_TESTS=1"))
struct LinkAddressKernelTests {
    static let v4 = IPAddress("192.0.2.10")!
    static let v6 = IPAddress("2001:db8::10")!

    /// `ip -j -d link show dev NAME`: the one link's JSON object.
    func link(_ ns: TestNetworkNamespace, _ name: String = "ballast0") throws -> [String: Any] {
        let links = try #require(try ns.json("ip", "-j", "-d", "link", "show", "dev", name) as? [[String: Any]])
        return try #require(links.first)
    }

    /// `ip -j addr show dev NAME`: "address/prefix" → address flags of interest.
    func addressesShownByIP(_ ns: TestNetworkNamespace, _ name: String = "ballast0") throws -> [String: [String]] {
        let links = try #require(try ns.json("ip", "-j", "addr", "show", "dev", name) as? [[String: Any]])
        var result: [String: [String]] = [:]
        for info in (links.first?["addr_info"] as? [[String: Any]]) ?? [] {
            guard let local = info["local"] as? String, let prefix = info["prefixlen"] as? Int else { continue }
            result["\(local)/\(prefix)"] = ["tentative", "nodad", "noprefixroute", "deprecated"]
                .filter { info[$0] as? Bool == true }
        }
        return result
    }

    @Test func ensureLinkCreatesAnUpNoarpDummyLinkOnce() async throws {
        let ns = try await TestNetworkNamespace.make()
        let vips = try DummyLinkVIPs()
        try await ns.run { try vips.ensureLink() }

        let first = try link(ns)
        let flags = try #require(first["flags"] as? [String])
        #expect(flags.contains("NOARP"))
        #expect(flags.contains("UP"))
        #expect((first["linkinfo"] as? [String: Any])?["info_kind"] as? String == "dummy")

        try await ns.run { try vips.ensureLink() }
        #expect(try link(ns)["ifindex"] as? Int == first["ifindex"] as? Int)
    }

    @Test func ensureLinkFixesTheFlagsOfAnExistingDummyLinkInPlace() async throws {
        let ns = try await TestNetworkNamespace.make()
        // The dummy driver makes its links NOARP; someone turned ARP back on.
        try ns.shellSucceeds("ip", "link", "add", "ballast0", "type", "dummy")
        try ns.shellSucceeds("ip", "link", "set", "ballast0", "arp", "on")
        let before = try link(ns)
        #expect(try #require(before["flags"] as? [String]).contains("NOARP") == false)

        let vips = try DummyLinkVIPs()
        try await ns.run { try vips.ensureLink() }
        let after = try link(ns)
        let flags = try #require(after["flags"] as? [String])
        #expect(flags.contains("NOARP") && flags.contains("UP"))
        #expect(after["ifindex"] as? Int == before["ifindex"] as? Int)
    }

    @Test func addsAndRemovesHostAddressesOfBothFamilies() async throws {
        let ns = try await TestNetworkNamespace.make()
        let vips = try DummyLinkVIPs()
        let listed = try await ns.run {
            try vips.ensureLink()
            try vips.add(Self.v4)
            try vips.add(Self.v6)
            // Idempotent: adding again is not an error.
            try vips.add(Self.v4)
            try vips.add(Self.v6)
            return try vips.addresses()
        }
        #expect(listed == [Self.v4, Self.v6])
        let shown = try addressesShownByIP(ns)
        #expect(shown["192.0.2.10/32"] == [])
        // Usable at once (never tentative) and without a /128 route in the main table.
        #expect(shown["2001:db8::10/128"] == ["nodad", "noprefixroute"])
        let mainRoutes = try ns.shellSucceeds("ip", "-6", "route", "show", "table", "main", "dev", "ballast0")
        #expect(!mainRoutes.contains("2001:db8::10"))

        let afterRemove = try await ns.run {
            try vips.remove(Self.v4)
            try vips.remove(Self.v4)  // idempotent
            return try vips.addresses()
        }
        #expect(afterRemove == [Self.v6])
        #expect(try addressesShownByIP(ns).keys.sorted().filter { !$0.hasPrefix("fe80") } == ["2001:db8::10/128"])
    }

    @Test func anIPv6VIPCanBeBoundRightAfterItIsAdded() async throws {
        let ns = try await TestNetworkNamespace.make()
        let vips = try DummyLinkVIPs()
        let bindResult = try await ns.run { () throws(DataPlaneError) -> Int32 in
            try vips.ensureLink()
            try vips.add(Self.v6)
            // bind() fails with EADDRNOTAVAIL while an address is tentative (DAD).
            let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var sa = sockaddr_in6()
            sa.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &sa.sin6_addr) { $0.copyBytes(from: Self.v6.bytes) }
            let rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            return rc == 0 ? 0 : errno
        }
        #expect(bindResult == 0)
    }

    @Test func otherLinksAndAddressesAreLeftAlone() async throws {
        let ns = try await TestNetworkNamespace.make()
        try ns.shellSucceeds("ip", "link", "add", "dp-other", "type", "dummy")
        try ns.shellSucceeds("ip", "link", "set", "dp-other", "up")
        try ns.shellSucceeds("ip", "addr", "add", "192.0.2.11/32", "dev", "dp-other")
        try ns.shellSucceeds("ip", "addr", "add", "198.51.100.1/24", "dev", "dp-other")
        let vips = try DummyLinkVIPs()
        let listed = try await ns.run {
            try vips.ensureLink()
            try vips.add(Self.v4)
            return try vips.addresses()
        }
        // A non-host prefix someone put on our link is not a VIP.
        try ns.shellSucceeds("ip", "addr", "add", "203.0.113.1/24", "dev", "ballast0")
        #expect(listed == [Self.v4])
        #expect(try await ns.run { try vips.addresses() } == [Self.v4])

        try await ns.run { try vips.removeLink() }
        #expect(try ns.shell("ip", "link", "show", "dev", "ballast0").status != 0)
        #expect(try addressesShownByIP(ns, "dp-other").keys.sorted().filter { !$0.hasPrefix("fe80") }
                    == ["192.0.2.11/32", "198.51.100.1/24"])
    }

    @Test func refusesToTouchALinkOfItsNameThatIsNotADummyLink() async throws {
        let ns = try await TestNetworkNamespace.make()
        try ns.shellSucceeds("ip", "link", "add", "ballast0", "type", "veth", "peer", "name", "dp-peer")
        let vips = try DummyLinkVIPs()
        for operation in ["ensureLink", "add", "addresses", "removeLink"] {
            let error = await #expect(throws: DataPlaneError.self, "\(operation)") {
                try await ns.run { () throws(DataPlaneError) in
                    switch operation {
                    case "ensureLink": try vips.ensureLink()
                    case "add": try vips.add(Self.v4)
                    case "addresses": _ = try vips.addresses()
                    default: try vips.removeLink()
                    }
                }
            }
            #expect(error?.errno == EEXIST)
            #expect(error?.reason.contains("ballast0 exists but is a veth link") == true)
        }
        #expect(try link(ns)["ifindex"] != nil)
        #expect(try addressesShownByIP(ns).keys.filter { !$0.hasPrefix("fe80") }.isEmpty)
    }

    @Test func removeLinkDeletesItAndIsIdempotent() async throws {
        let ns = try await TestNetworkNamespace.make()
        let vips = try DummyLinkVIPs(linkName: "dp-vips")
        try await ns.run {
            try vips.ensureLink()
            try vips.add(Self.v4)
            try vips.removeLink()
            try vips.removeLink()
            try vips.remove(Self.v4)  // the address went with the link: nothing to do
        }
        #expect(try ns.shell("ip", "link", "show", "dev", "dp-vips").status != 0)
    }

    @Test func errorsNameTheOperationTheObjectAndTheErrno() async throws {
        let ns = try await TestNetworkNamespace.make()
        let vips = try DummyLinkVIPs()
        let addError = await #expect(throws: DataPlaneError.self) { try await ns.run { try vips.add(Self.v4) } }
        #expect(addError?.errno == ENODEV)
        #expect(addError?.description
                    == "add address 192.0.2.10/32 to ballast0: No such device (ENODEV); link ballast0 does not exist")
        let listError = await #expect(throws: DataPlaneError.self) { try await ns.run { try vips.addresses() } }
        #expect(listError?.description.hasPrefix("list addresses of ballast0: No such device (ENODEV)") == true)
    }

    @Test(arguments: ["", "a-name-longer-than-15", "bad/name", "bad:name", "bad name", ".."])
    func rejectsNamesThatAreNotInterfaceNames(_ name: String) {
        #expect(throws: DataPlaneError.self) { try DummyLinkVIPs(linkName: name) }
    }
}
