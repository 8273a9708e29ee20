import BallastCore
import L2Frames
import Testing
@testable import L2Announce

@Suite struct AssignmentTests {
    static let all = [Net.loopback, Net.eth0, Net.eth1, Net.dummy]

    @Test(arguments: [
        // The interface whose subnet contains the address; never the NOARP dummy
        // holding it as a /32, never loopback.
        ("192.0.2.10", ["eth0"]),
        ("2001:db8::10", ["eth0"]),
        ("198.51.100.7", ["eth1"]),
        ("203.0.113.1", []),
        ("127.0.0.5", []),
    ])
    func automaticPicksTheOnLinkInterface(_ address: String, _ expected: [String]) {
        let assignment = Assignment(desired: [Net.ip(address): .automatic], available: Self.all)
        #expect((assignment.interfaces[Net.ip(address)] ?? []) == Set(expected))
        #expect((assignment.problems[Net.ip(address)] != nil) == expected.isEmpty)
    }

    @Test func longestPrefixWinsAndTiesAnnounceOnAll() {
        var wide = Net.eth1
        wide.networks = [Net.cidr("192.0.0.0/16")]
        var twin = Net.eth0
        twin.name = "eth2"
        twin.index = 9
        let a = Net.ip("192.0.2.10")
        #expect(Assignment(desired: [a: .automatic], available: [Net.eth0, wide]).interfaces[a] == ["eth0"])
        #expect(Assignment(desired: [a: .automatic], available: [Net.eth0, twin]).interfaces[a] == ["eth0", "eth2"])
    }

    @Test func downAndNonEthernetInterfacesAreSkipped() {
        var down = Net.eth0
        down.isUp = false
        var tun = Net.eth0
        tun.mac = nil
        let a = Net.ip("192.0.2.10")
        for candidate in [down, tun] {
            let assignment = Assignment(desired: [a: .automatic], available: [candidate])
            #expect(assignment.interfaces[a] == nil)
            #expect(assignment.problems[a] == "no up, ARP-capable interface has a subnet containing 192.0.2.10")
        }
    }

    @Test func explicitInterfacesAreUsedEvenOffSubnet() {
        let a = Net.ip("203.0.113.1")
        let assignment = Assignment(desired: [a: .interfaces(["eth1", "eth0"])], available: Self.all)
        #expect(assignment.interfaces[a] == ["eth0", "eth1"])
        #expect(assignment.problems[a] == nil)
    }

    @Test func explicitProblemsAreNamed() {
        let a = Net.ip("192.0.2.10")
        let assignment = Assignment(desired: [a: .interfaces(["eth0", "eth7", "ballast0"])], available: Self.all)
        #expect(assignment.interfaces[a] == ["eth0"])
        #expect(assignment.problems[a] == "no interface eth7; ballast0 down, NOARP, loopback or not Ethernet")
        let none = Assignment(desired: [a: .interfaces([])], available: Self.all)
        #expect(none.interfaces[a] == nil)
        #expect(none.problems[a] == "no interface named")
    }
}
