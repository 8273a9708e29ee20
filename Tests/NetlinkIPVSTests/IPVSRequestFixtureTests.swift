// Ballast's request bytes against ipvsadm's for the same operation, captured
// from the kernel VM. The encoder is given the family id and sequence number
// ipvsadm used, so only nlmsg_pid needs clearing before comparing.

import BallastCore
import Testing
@testable import NetlinkIPVS

private let tcp4 = VirtualServiceKey.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)
private let udp6 = VirtualServiceKey.address(IPAddress("2001:db8::10")!, port: 53, protocol: .udp)
private let sctp4 = VirtualServiceKey.address(IPAddress("192.0.2.11")!, port: 5000, protocol: .sctp)
private let udp4 = VirtualServiceKey.address(IPAddress("192.0.2.12")!, port: 53, protocol: .udp)
private let fwm4 = VirtualServiceKey.firewallMark(7, family: .ipv4)
private let fwm6 = VirtualServiceKey.firewallMark(8, family: .ipv6)
private let masq = IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080, forwarding: .masquerade,
                                   weight: 3, upperThreshold: 100, lowerThreshold: 10)

/// How much of ipvsadm's message Ballast reproduces.
enum Expectation: Sendable {
    /// Every byte.
    case identical
    /// The identifying attributes only: ipvsadm also sends a whole service or
    /// destination where the kernel reads just the identity (full_entry false).
    case identity
}

struct RequestCase: Sendable, CustomTestStringConvertible {
    var fixture: String
    var operation: IPVSOperation
    var expectation: Expectation
    var testDescription: String { fixture }
}

@Suite struct IPVSRequestFixtureTests {
    static let cases: [RequestCase] = [
        RequestCase(fixture: "svc-add-tcp4", operation: .addService(IPVSVirtualService(key: tcp4, scheduler: .rr)),
                    expectation: .identical),
        RequestCase(fixture: "svc-add-udp6-persist",
                    operation: .addService(IPVSVirtualService(
                        key: udp6, scheduler: .wlc, persistence: IPVSPersistence(timeout: 600, netmaskPrefix: 64))),
                    expectation: .identical),
        RequestCase(fixture: "svc-add-sctp4-sh",
                    operation: .addService(IPVSVirtualService(
                        key: sctp4, scheduler: .sh, flags: [.shFallback, .shPort],
                        persistence: IPVSPersistence(timeout: 300, netmaskPrefix: 24))),
                    expectation: .identical),
        RequestCase(fixture: "svc-add-fwm4-mh",
                    operation: .addService(IPVSVirtualService(key: fwm4, scheduler: .mh, flags: [.mhFallback, .mhPort])),
                    expectation: .identical),
        RequestCase(fixture: "svc-add-fwm6", operation: .addService(IPVSVirtualService(key: fwm6, scheduler: .lc)),
                    expectation: .identical),
        RequestCase(fixture: "svc-add-udp4-ops",
                    operation: .addService(IPVSVirtualService(key: udp4, scheduler: .rr, flags: .onePacket)),
                    expectation: .identical),
        RequestCase(fixture: "svc-edit-tcp4", operation: .editService(IPVSVirtualService(key: tcp4, scheduler: .wrr)),
                    expectation: .identical),
        RequestCase(fixture: "svc-del-tcp4", operation: .deleteService(tcp4), expectation: .identity),
        RequestCase(fixture: "svc-del-fwm6", operation: .deleteService(fwm6), expectation: .identity),
        RequestCase(fixture: "dest-add-masq4", operation: .addDestination(tcp4, masq), expectation: .identity),
        // ipvsadm itself replaces a direct-routing destination's port with the
        // service's (the capture asked for 5353 and sent 53).
        RequestCase(fixture: "dest-add-route6",
                    operation: .addDestination(udp6, IPVSDestination(address: IPAddress("2001:db8:1::5")!, port: 53,
                                                                     forwarding: .directRoute, weight: 2)),
                    expectation: .identity),
        RequestCase(fixture: "dest-add-tunnel-fwm4",
                    operation: .addDestination(fwm4, IPVSDestination(address: IPAddress("10.0.0.6")!, port: 0,
                                                                     forwarding: .tunnel, weight: 1)),
                    expectation: .identity),
        RequestCase(fixture: "dest-edit-masq4",
                    operation: .editDestination(tcp4, IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080,
                                                                      weight: 5, upperThreshold: 100, lowerThreshold: 10)),
                    expectation: .identity),
        RequestCase(fixture: "dest-del-masq4", operation: .deleteDestination(tcp4, masq.endpoint), expectation: .identity),
    ]

    /// Service attributes ipvsadm sends for a destination command or a deletion,
    /// which the kernel does not read there: SCHED_NAME, FLAGS, TIMEOUT, NETMASK.
    static let unreadServiceAttributes: Set<UInt16> = [6, 7, 8, 9]
    /// Destination attributes ipvsadm sends for a deletion: FWD_METHOD, WEIGHT,
    /// U_THRESH, L_THRESH, TUN_TYPE, TUN_PORT, TUN_FLAGS.
    static let unreadDestinationAttributes: Set<UInt16> = [3, 4, 5, 6, 13, 14, 15]

    @Test(arguments: cases)
    func matchesIpvsadm(_ testCase: RequestCase) throws {
        let fixture = try Fixture(testCase.fixture)
        let theirs = try fixture.request
        let header = try WireMessage(theirs)
        var writer = NetlinkMessageWriter()
        try IPVSRequestEncoder(family: header.type).append(testCase.operation, sequence: header.sequence, to: &writer)
        let ours = writer.bytes

        switch testCase.expectation {
        case .identical:
            #expect(ours == clearingPortID(theirs), "\(fixture.command)")
        case .identity:
            let mine = try WireMessage(ours)
            #expect(mine.type == header.type && mine.flags == header.flags && mine.sequence == header.sequence)
            #expect(mine.command == header.command && mine.version == header.version)
            try expectSubset(mine.nest(1), of: header.nest(1), unread: Self.unreadServiceAttributes, fixture.command)
            if header.nest(2) != nil {
                let unread: Set<UInt16> = testCase.operation.isDeletion ? Self.unreadDestinationAttributes : []
                try expectSubset(mine.nest(2), of: header.nest(2), unread: unread, fixture.command)
            }
        }
    }

    /// Ballast's attributes are ipvsadm's, in the same order, minus ones the kernel does not read.
    private func expectSubset(_ mine: [WireAttribute]?, of theirs: [WireAttribute]?, unread: Set<UInt16>,
                              _ command: String) throws {
        let mine = try #require(mine), theirs = try #require(theirs)
        let sent = Set(mine.map(\.type))
        #expect(mine == theirs.filter { sent.contains($0.type) }, "\(command)")
        #expect(theirs.filter { !sent.contains($0.type) }.allSatisfy { unread.contains($0.type) }, "\(command)")
    }

    @Test func serviceDumpRequestMatchesIpvsadm() throws {
        let fixture = try Fixture("dump-all")
        let theirs = try WireMessage(fixture.requests[0])
        var writer = NetlinkMessageWriter()
        IPVSRequestEncoder(family: theirs.type).appendServiceDump(sequence: theirs.sequence, to: &writer)
        let mine = try WireMessage(writer.bytes)
        #expect(mine.command == IPVSKernel.Command.getService)
        // ipvsadm also sets NLM_F_ACK, which a dump ignores (no ack follows NLMSG_DONE).
        #expect(mine.flags == theirs.flags & ~Netlink.acknowledge)
        #expect(mine.attributes == theirs.attributes)
    }

    @Test func destinationDumpRequestsMatchIpvsadm() throws {
        let fixture = try Fixture("dump-all")
        let keys = try DumpFixture(fixture).services.map(\.key)
        let theirs = try fixture.requests.dropFirst().map(WireMessage.init)
        // One request per service of the dump, each naming its service as Ballast would.
        #expect(Set(try theirs.map { try $0.serviceKey() }) == Set(keys))
        for request in theirs {
            let key = try request.serviceKey()
            var writer = NetlinkMessageWriter()
            IPVSRequestEncoder(family: request.type).appendDestinationDump(of: key, sequence: request.sequence, to: &writer)
            let mine = try WireMessage(writer.bytes)
            #expect(mine.command == request.command && mine.flags == request.flags & ~Netlink.acknowledge)
            #expect(mine.attributes == request.attributes, "\(key)")
        }
    }
}

extension IPVSOperation {
    var isDeletion: Bool {
        switch self {
        case .deleteService, .deleteDestination: true
        default: false
        }
    }
}
