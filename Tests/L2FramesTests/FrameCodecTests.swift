import BallastCore
import L2Frames
import Testing

@Suite struct FrameCodecTests {
    @Test func macAddressParsesAndPrints() throws {
        let mac = try #require(MACAddress("02:AB:cd:00:0f:10"))
        #expect(mac.description == "02:ab:cd:00:0f:10")
        #expect(mac.bytes == [0x02, 0xab, 0xcd, 0x00, 0x0f, 0x10])
        #expect(!mac.isMulticast)
        #expect(MACAddress.broadcast.isMulticast)
        #expect(MACAddress.ipv6AllNodes.isMulticast)
        for bad in ["", "02:ab:cd:00:0f", "02:ab:cd:00:0f:10:11", "2:ab:cd:00:0f:10", "02-ab-cd-00-0f-10", "zz:ab:cd:00:0f:10"] {
            #expect(MACAddress(bad) == nil, "\(bad)")
        }
    }

    @Test func solicitedNodeGroupAndItsMAC() throws {
        let a = try #require(IPv6Address("2001:db8::12:3456"))
        #expect(a.solicitedNodeMulticast.description == "ff02::1:ff12:3456")
        #expect(a.solicitedNodeMulticast.isSolicitedNodeMulticast)
        #expect(!a.isSolicitedNodeMulticast)
        #expect(MACAddress(ipv6Multicast: a.solicitedNodeMulticast).description == "33:33:ff:12:34:56")
    }

    @Test func decodesCapturedARPRequest() throws {
        let frame = try EthernetFrame(decoding: Captured.arpRequest)
        #expect(frame.destination == .broadcast)
        #expect(frame.source == Captured.peerMAC)
        #expect(frame.etherType == EtherType.arp)
        let arp = try ARPPacket(decoding: frame.payload)
        #expect(arp == ARPPacket(operation: .request, senderMAC: Captured.peerMAC,
                                 senderIP: IPv4Address("198.51.100.2")!, targetMAC: .zero,
                                 targetIP: IPv4Address("198.51.100.1")!))
    }

    @Test(arguments: Captured.all)
    func capturedFramesRoundTrip(_ bytes: [UInt8]) throws {
        let frame = try EthernetFrame(decoding: bytes)
        #expect(frame.encode() == bytes)
        switch frame.etherType {
        case EtherType.arp:
            let arp = try ARPPacket(decoding: frame.payload)
            #expect(arp.encode() == Array(frame.payload.prefix(ARPPacket.length)))
        case EtherType.ipv6:
            let packet = try IPv6Packet(decoding: frame.payload)
            #expect(packet.encode() == frame.payload)
            #expect(icmpv6Checksum(source: packet.source, destination: packet.destination, message: packet.payload) == 0)
            if let message = try? NDPMessage(validating: packet) {
                #expect(message.encode(source: packet.source, destination: packet.destination) == packet.payload)
            }
        default:
            Issue.record("unexpected EtherType \(frame.etherType)")
        }
    }

    @Test func decodesCapturedSolicitationOptions() throws {
        let packet = try IPv6Packet(decoding: EthernetFrame(decoding: Captured.neighborSolicitation).payload)
        #expect(packet.flowLabel == 0x6bd7f)
        #expect(packet.hopLimit == 255)
        guard case .solicitation(let ns) = try NDPMessage(validating: packet) else {
            Issue.record("not a solicitation"); return
        }
        #expect(ns.target == IPv6Address("2001:db8:1::1"))
        #expect(ns.options == [.sourceLinkLayerAddress(Captured.peerMAC)])
    }

    @Test func keepsUnknownOptions() throws {
        let packet = try IPv6Packet(decoding: EthernetFrame(decoding: Captured.duplicateAddressDetection).payload)
        guard case .solicitation(let ns) = try NDPMessage(validating: packet) else {
            Issue.record("not a solicitation"); return
        }
        #expect(ns.options == [.other(type: 14, data: [0x95, 0x66, 0x06, 0xe2, 0x2e, 0x98])])
    }

    @Test func decodesCapturedAdvertisementFlags() throws {
        let packet = try IPv6Packet(decoding: EthernetFrame(decoding: Captured.neighborAdvertisementFromKernel).payload)
        #expect(try NDPMessage(validating: packet) == .advertisement(NeighborAdvertisement(
            router: false, solicited: true, override: true, target: IPv6Address("2001:db8:1::1")!,
            options: [.targetLinkLayerAddress(Captured.nodeMAC)])))
    }

    @Test func ipv6DecodingCutsEthernetPadding() throws {
        let padded = Captured.routerSolicitation + [0, 0, 0, 0]
        let packet = try IPv6Packet(decoding: EthernetFrame(decoding: padded).payload)
        #expect(packet.payload.count == 16)
    }

    @Test func shortFramesArePaddedOnlyOnRequest() {
        let frame = EthernetFrame(destination: .broadcast, source: Captured.nodeMAC, etherType: EtherType.arp,
                                  payload: [1, 2, 3])
        #expect(frame.encode().count == 17)
        #expect(frame.encode(padded: true).count == 60)
        #expect(frame.encode(padded: true).suffix(43) == ArraySlice(repeating: 0, count: 43))
    }
}
