// Encoding then decoding gives back the value: a request for a service or
// destination carries the same nest the kernel's dump replies carry.

import BallastCore
import Testing
@testable import NetlinkIPVS

@Suite struct IPVSRoundTripTests {
    static let keys: [VirtualServiceKey] = [
        .address(IPAddress("192.0.2.10")!, port: 80, protocol: .tcp),
        .address(IPAddress("198.51.100.1")!, port: 65535, protocol: .udp),
        .address(IPAddress("203.0.113.9")!, port: 1, protocol: .sctp),
        .address(IPAddress("2001:db8::1")!, port: 443, protocol: .tcp),
        .address(IPAddress("2001:db8:ffff::ffff")!, port: 5353, protocol: .udp),
        .firewallMark(1, family: .ipv4),
        .firewallMark(UInt32.max, family: .ipv6),
    ]

    static let services: [IPVSVirtualService] =
        keys.flatMap { key in
            IPVSScheduler.allCases.map { IPVSVirtualService(key: key, scheduler: $0) }
        } + keys.flatMap { key in
            let prefixes = key.family == .ipv4 ? [0, 8, 24, 32] : [1, 48, 64, 128]
            return prefixes.map {
                IPVSVirtualService(key: key, scheduler: .sh, flags: [.shFallback, .shPort],
                                   persistence: IPVSPersistence(timeout: UInt32($0) * 60 + 1, netmaskPrefix: $0))
            }
        } + [
            IPVSVirtualService(key: keys[1], scheduler: .rr, flags: .onePacket),
            IPVSVirtualService(key: keys[0], scheduler: .mh, flags: [.mhFallback, .schedFlag3]),
        ]

    @Test(arguments: services)
    func service(_ service: IPVSVirtualService) throws {
        let add = try encode(.addService(service))
        let decoded = try decodeService(add)
        #expect(decoded == ObservedVirtualService(key: service.key, scheduler: service.scheduler,
                                                  flags: service.flags, persistence: service.persistence))
        // An edit carries the same service; only the command differs.
        #expect(try encode(.editService(service)) == commanded(add, IPVSKernel.Command.setService))
    }

    static let destinations: [IPVSDestination] = [
        IPVSDestination(address: IPAddress("10.0.0.5")!, port: 8080),
        IPVSDestination(address: IPAddress("10.255.0.1")!, port: 0, forwarding: .directRoute, weight: 0),
        IPVSDestination(address: IPAddress("10.0.0.6")!, port: 443, forwarding: .tunnel, weight: 65535,
                        upperThreshold: 1000, lowerThreshold: 10),
        IPVSDestination(address: IPAddress("2001:db8:1::5")!, port: 53, forwarding: .masquerade, weight: 7,
                        upperThreshold: UInt32.max, lowerThreshold: 0),
        IPVSDestination(address: IPAddress("2001:db8:1::6")!, port: 80, forwarding: .tunnel),
    ]

    @Test(arguments: destinations)
    func destination(_ destination: IPVSDestination) throws {
        // An IPv4 real server behind an IPv6 service (tunnelling) keeps its own family.
        for key in [Self.keys[0], Self.keys[3]] {
            let add = try encode(.addDestination(key, destination))
            #expect(try decodeDestination(add, serviceFamily: key.family) == ObservedDestination(destination: destination))
            #expect(try encode(.editDestination(key, destination)) == commanded(add, IPVSKernel.Command.setDestination))
        }
    }

    /// `message` with another generic netlink command.
    private func commanded(_ message: [UInt8], _ command: UInt8) -> [UInt8] {
        var copy = message
        copy[16] = command
        return copy
    }

    private func encode(_ operation: IPVSOperation) throws -> [UInt8] {
        var writer = NetlinkMessageWriter()
        try IPVSRequestEncoder(family: 32).append(operation, sequence: 9, to: &writer)
        return writer.bytes
    }
}

func decodeService(_ bytes: [UInt8]) throws -> ObservedVirtualService {
    var result: ObservedVirtualService?
    try withMessages(bytes) { result = try IPVSReplyDecoder.service($0) }
    return try #require(result)
}

func decodeDestination(_ bytes: [UInt8], serviceFamily: AddressFamily) throws -> ObservedDestination {
    var result: ObservedDestination?
    try withMessages(bytes) { result = try IPVSReplyDecoder.destination($0, serviceFamily: serviceFamily) }
    return try #require(result)
}
