// The kernel's replies, captured from `ipvsadm -Ln` and failing ipvsadm
// commands in the kernel VM, decoded into values.

import BallastCore
import Testing
@testable import NetlinkIPVS

/// The services and destinations of a captured `ipvsadm -Ln`, in the kernel's dump order.
struct DumpFixture {
    var services: [ObservedVirtualService] = []

    init(_ fixture: Fixture) throws {
        // ipvsadm opens a socket per request and seeds sequence numbers from the
        // clock: only (sequence, port id) tells its requests apart. Each reply
        // carries the requester's port id.
        func origin(_ message: [UInt8]) -> UInt64 {
            UInt64(WireMessage.u32(message, 8)) << 32 | UInt64(WireMessage.u32(message, 12))
        }
        let requests = fixture.requests.map(origin)
        let serviceDump = try #require(requests.first)
        let family = try WireMessage(fixture.requests[0]).type
        for reply in fixture.replies where origin(reply) == serviceDump {
            try withMessages(reply) { message in
                if message.type == family { services.append(try IPVSReplyDecoder.service(message)) }
            }
        }
        // ipvsadm then asks for each service's destinations (in its own sorted order).
        try #require(requests.count == services.count + 1)
        var indexByOrigin: [UInt64: Int] = [:]
        for (request, bytes) in zip(requests.dropFirst(), fixture.requests.dropFirst()) {
            let key = try WireMessage(bytes).serviceKey()
            indexByOrigin[request] = try #require(services.firstIndex { $0.key == key })
        }
        for reply in fixture.replies {
            guard let index = indexByOrigin[origin(reply)] else { continue }
            try withMessages(reply) { message in
                if message.type == family {
                    services[index].destinations.append(
                        try IPVSReplyDecoder.destination(message, serviceFamily: services[index].key.family))
                }
            }
        }
    }
}

@Suite struct IPVSReplyFixtureTests {
    @Test func decodesEveryServiceOfTheDump() throws {
        let dump = try DumpFixture(Fixture("dump-all"))
        let byKey = Dictionary(uniqueKeysWithValues: dump.services.map { ($0.key, $0) })
        #expect(dump.services.count == 6)

        let tcp = try #require(byKey[.address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp)])
        #expect(tcp.scheduler == .wrr && tcp.flags == [] && tcp.persistence == nil)
        #expect(tcp.destinations.map(\.destination) == [
            IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080, forwarding: .masquerade,
                            weight: 5, upperThreshold: 100, lowerThreshold: 10),
        ])

        let udp6 = try #require(byKey[.address(IPAddress("2001:db8::10")!, port: 53, protocol: .udp)])
        #expect(udp6.scheduler == .wlc)
        #expect(udp6.persistence == IPVSPersistence(timeout: 600, netmaskPrefix: 64))
        #expect(udp6.destinations.map(\.destination) == [
            IPVSDestination(address: IPAddress("2001:db8:1::5")!, port: 53, forwarding: .directRoute, weight: 2),
        ])

        let sctp = try #require(byKey[.address(IPAddress("192.0.2.11")!, port: 5000, protocol: .sctp)])
        #expect(sctp.scheduler == .sh && sctp.flags == [.shFallback, .shPort])
        #expect(sctp.persistence == IPVSPersistence(timeout: 300, netmaskPrefix: 24))
        #expect(sctp.destinations.isEmpty)

        let udp4 = try #require(byKey[.address(IPAddress("192.0.2.12")!, port: 53, protocol: .udp)])
        #expect(udp4.scheduler == .rr && udp4.flags == .onePacket && udp4.persistence == nil)

        let fwm4 = try #require(byKey[.firewallMark(7, family: .ipv4)])
        #expect(fwm4.scheduler == .mh && fwm4.flags == [.mhFallback, .mhPort])
        #expect(fwm4.destinations.map(\.destination) == [
            IPVSDestination(address: IPAddress("10.0.0.6")!, port: 0, forwarding: .tunnel, weight: 1),
        ])

        let fwm6 = try #require(byKey[.firewallMark(8, family: .ipv6)])
        #expect(fwm6.scheduler == .lc && fwm6.destinations.isEmpty && fwm6.persistence == nil)
    }

    /// The counters agree with what ipvsadm printed from the same replies.
    @Test func connectionCountsMatchIpvsadmOutput() throws {
        let fixture = try Fixture("dump-all")
        let dump = try DumpFixture(fixture)
        let line = try #require(fixture.output.first { $0.contains("-> 10.0.0.5:8080") })
        let columns = line.split(separator: " ")
        let masq = try #require(dump.services.flatMap(\.destinations).first { $0.destination.port == 8080 })
        #expect(columns.suffix(2).map(String.init) == ["\(masq.activeConnections)", "\(masq.inactiveConnections)"])
        // The connection attempt made before the capture went through this service.
        #expect(masq.activeConnections + masq.inactiveConnections == 1)
        #expect(masq.stats.connections == 1 && masq.stats.inPackets >= 1)
        let service = try #require(dump.services.first { $0.destinations.contains(masq) })
        #expect(service.stats.connections == 1 && service.stats.inBytes == masq.stats.inBytes)
    }

    @Test func ackOfMissingServiceIsESRCH() throws {
        let fixture = try Fixture("err-dest-add-esrch")
        let request = try WireMessage(fixture.request)
        var code: Int32?
        for reply in fixture.replies {
            try withMessages(reply) { message in
                if message.type == Netlink.error, message.sequence == request.sequence {
                    code = try message.errorNumber()
                }
            }
        }
        #expect(code == Errno.ESRCH)
        let operation = IPVSOperation.addDestination(.address(IPAddress("192.0.2.99")!, port: 80, protocol: .tcp),
                                                     IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080))
        #expect(IPVSError.kernel(operation, errno: try #require(code)).description
                == "add destination 10.0.0.5:8080 to TCP 192.0.2.99:80: No such process (ESRCH)")
    }

    @Test func ackOfDuplicateServiceIsEEXIST() throws {
        let fixture = try Fixture("err-svc-add-eexist")
        let request = try WireMessage(fixture.request)
        var codes: [Int32] = []
        for reply in fixture.replies {
            try withMessages(reply) { message in
                if message.type == Netlink.error, message.sequence == request.sequence {
                    codes.append(try message.errorNumber())
                }
            }
        }
        #expect(codes == [Errno.EEXIST])
    }

    @Test func successAcksCarryZero() throws {
        let fixture = try Fixture("svc-add-tcp4")
        let request = try WireMessage(fixture.request)
        var codes: [Int32] = []
        for reply in fixture.replies {
            try withMessages(reply) { message in
                if message.type == Netlink.error, message.sequence == request.sequence {
                    codes.append(try message.errorNumber())
                }
            }
        }
        #expect(codes == [0])
    }
}
