import BallastTestSupport
import BallastCore
import Foundation
import LinkAddress
import Testing

/// What the kernel itself answers for a VIP on the NOARP dummy link, asked on
/// another interface. This is why the L2 announcer must set arp_ignore on the
/// announcement interface (docs/dataplane.md): NOARP on ballast0 does not stop
/// Linux from answering ARP for the VIP on every other interface.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["BALLAST_KERNEL_TESTS"] == "1",
                "needs the kernel VM (dummy, veth); set BALLAST_KERNEL_TESTS=1"))
struct LinkAddressNeighborTests {
    @Test func theKernelAnswersARPButNotNDPForAVIPOnTheDummyLink() async throws {
        let client = try await TestNetworkNamespace.make()
        let node = try await TestNetworkNamespace.make()
        try client.shellSucceeds("ip", "link", "add", "c0", "type", "veth", "peer", "name", "n0", "netns", node.path)
        try client.shellSucceeds("ip", "addr", "add", "198.51.100.2/24", "dev", "c0")
        try client.shellSucceeds("ip", "addr", "add", "2001:db8:c::2/64", "dev", "c0", "nodad")
        try client.shellSucceeds("ip", "link", "set", "c0", "up")
        try node.shellSucceeds("ip", "addr", "add", "198.51.100.1/24", "dev", "n0")
        try node.shellSucceeds("ip", "addr", "add", "2001:db8:c::1/64", "dev", "n0", "nodad")
        try node.shellSucceeds("ip", "link", "set", "n0", "up")
        let vips = try DummyLinkVIPs()
        try await node.run { () throws(DataPlaneError) in
            try vips.ensureLink()
            try vips.add(IPAddress("192.0.2.10")!)
            try vips.add(IPAddress("2001:db8::10")!)
        }

        // arp_ignore=0 (the default): any local address is answered on any interface.
        #expect(try client.shell("arping", "-c", "2", "-w", "3", "-i", "c0", "192.0.2.10").status == 0)
        // arp_ignore=1: only addresses configured on the interface asked.
        try node.shellSucceeds("sysctl", "-qw", "net.ipv4.conf.n0.arp_ignore=1")
        #expect(try client.shell("arping", "-c", "2", "-w", "3", "-i", "c0", "192.0.2.10").status != 0)
        #expect(try client.shell("arping", "-c", "2", "-w", "3", "-i", "c0", "198.51.100.1").status == 0)

        // NDP answers only for addresses on the interface asked, whatever the sysctls.
        #expect(try client.shell("ndisc6", "-r", "2", "-w", "1000", "2001:db8::10", "c0").status != 0)
        #expect(try client.shell("ndisc6", "-r", "2", "-w", "1000", "2001:db8:c::1", "c0").status == 0)
    }
}
