import BallastCore
import L2Frames
import Testing

/// The node side of the captured exchange, as Ballast would see it.
private func node(announcing addresses: String...) -> ResponderContext {
    ResponderContext(mac: Captured.nodeMAC, announced: Set(addresses.map { IPAddress($0)! }))
}

/// Rewrites an IPv6 frame with `edit` applied to its ICMPv6 message, then
/// fixes the checksum, so a test changes one field and nothing else fails.
private func editingICMPv6(_ bytes: [UInt8], ip: (inout IPv6Packet) -> Void = { _ in },
                           message edit: (inout [UInt8]) -> Void = { _ in }) -> [UInt8] {
    var frame = try! EthernetFrame(decoding: bytes)
    var packet = try! IPv6Packet(decoding: frame.payload)
    ip(&packet)
    edit(&packet.payload)
    packet.payload[2] = 0
    packet.payload[3] = 0
    let sum = icmpv6Checksum(source: packet.source, destination: packet.destination, message: packet.payload)
    packet.payload[2] = UInt8(sum >> 8)
    packet.payload[3] = UInt8(sum & 0xff)
    frame.payload = packet.encode()
    return frame.encode()
}

private func setting(_ bytes: [UInt8], _ offset: Int, _ values: UInt8...) -> [UInt8] {
    var out = bytes
    out.replaceSubrange(offset..<offset + values.count, with: values)
    return out
}

@Suite struct ResponderTests {
    // MARK: Answers match the kernel's, byte for byte

    @Test func arpReplyIsTheKernelsReplyPadded() {
        let decision = respond(to: Captured.arpRequest, context: node(announcing: "198.51.100.1"))
        let expected = Captured.arpReplyFromKernel + [UInt8](repeating: 0, count: 18)
        #expect(decision == .reply(Reply(address: IPAddress("198.51.100.1")!, frame: expected)))
        #expect(decision.isRequest)
    }

    @Test func neighborAdvertisementIsTheKernels() {
        let decision = respond(to: Captured.neighborSolicitation, context: node(announcing: "2001:db8:1::1"))
        #expect(decision == .reply(Reply(address: IPAddress("2001:db8:1::1")!,
                                         frame: Captured.neighborAdvertisementFromKernel)))
    }

    @Test func unsolicitedAdvertisementIsTheKernels() {
        #expect(Announcement.unsolicitedNA(for: IPv6Address("2001:db8:1::2")!, mac: Captured.peerMAC)
            == Captured.unsolicitedAdvertisement)
    }

    @Test func gratuitousARPHasBothForms() throws {
        let frames = Announcement.gratuitousARP(for: IPv4Address("198.51.100.2")!, mac: Captured.peerMAC)
        #expect(frames.count == 2)
        #expect(frames.allSatisfy { $0.count == EthernetFrame.minimumLength })
        // The request form is what `arping -U` put on the wire, up to padding.
        #expect(frames[0].prefix(42) == Captured.gratuitousRequest.prefix(42))
        let reply = try ARPPacket(decoding: EthernetFrame(decoding: frames[1]).payload)
        #expect(reply == ARPPacket(operation: .reply, senderMAC: Captured.peerMAC,
                                   senderIP: IPv4Address("198.51.100.2")!, targetMAC: Captured.peerMAC,
                                   targetIP: IPv4Address("198.51.100.2")!))
        #expect(try EthernetFrame(decoding: frames[1]).destination == .broadcast)
    }

    @Test func duplicateAddressDetectionIsAnsweredToAllNodes() throws {
        let decision = respond(to: Captured.duplicateAddressDetection, context: node(announcing: "2001:db8:1::2"))
        guard case .reply(let reply) = decision else { Issue.record("\(decision)"); return }
        let frame = try EthernetFrame(decoding: reply.frame)
        #expect(frame.destination == .ipv6AllNodes)
        let packet = try IPv6Packet(decoding: frame.payload)
        #expect(packet.destination == .allNodes)
        #expect(packet.source == IPv6Address("2001:db8:1::2"))
        #expect(packet.hopLimit == 255)
        #expect(try NDPMessage(validating: packet) == .advertisement(NeighborAdvertisement(
            solicited: false, override: true, target: IPv6Address("2001:db8:1::2")!,
            options: [.targetLinkLayerAddress(Captured.nodeMAC)])))
    }

    @Test func arpProbeIsAnsweredWithZeroTarget() throws {
        // RFC 5227 probe: sender IP 0.0.0.0. The prober learns the address is taken.
        let probe = ARPPacket(operation: .request, senderMAC: Captured.peerMAC, senderIP: IPv4Address(0),
                              targetMAC: .zero, targetIP: IPv4Address("198.51.100.1")!)
        let decision = respond(to: probe.frame(from: Captured.peerMAC, to: .broadcast),
                               context: node(announcing: "198.51.100.1"))
        guard case .reply(let reply) = decision else { Issue.record("\(decision)"); return }
        let arp = try ARPPacket(decoding: EthernetFrame(decoding: reply.frame).payload)
        #expect(arp.targetIP == IPv4Address(0))
        #expect(arp.targetMAC == Captured.peerMAC)
        #expect(arp.senderMAC == Captured.nodeMAC)
    }

    @Test func unicastRequestToUsIsAnswered() {
        var request = Captured.arpRequest
        request.replaceSubrange(0..<6, with: Captured.nodeMAC.bytes)
        guard case .reply = respond(to: request, context: node(announcing: "198.51.100.1")) else {
            Issue.record("unicast request not answered"); return
        }
    }

    @Test func solicitationWithoutSourceOptionIsAnsweredToTheEthernetSource() throws {
        // RFC 4861 §7.2.4 would have us resolve the solicitor first; its
        // Ethernet source is the address it used, which is what Linux replies to as well.
        let ns = editingICMPv6(Captured.neighborSolicitation, ip: { $0.payload.removeLast(8) })
        guard case .reply(let reply) = respond(to: ns, context: node(announcing: "2001:db8:1::1")) else {
            Issue.record("not answered"); return
        }
        #expect(try EthernetFrame(decoding: reply.frame).destination == Captured.peerMAC)
    }

    // MARK: Conflicts

    @Test func gratuitousARPFromAnotherMACIsAConflict() {
        for garp in [Captured.gratuitousRequest, Captured.gratuitousRequestBroadcastTarget] {
            #expect(respond(to: garp, context: node(announcing: "198.51.100.2"))
                == .conflict(Conflict(address: IPAddress("198.51.100.2")!, mac: Captured.peerMAC, evidence: .arp)))
        }
    }

    @Test func arpReplyFromAnotherMACIsAConflict() {
        // Seen from the peer's side: the peer announces 198.51.100.1 too.
        let context = ResponderContext(mac: Captured.peerMAC, announced: [IPAddress("198.51.100.1")!])
        #expect(respond(to: Captured.arpReplyFromKernel, context: context)
            == .conflict(Conflict(address: IPAddress("198.51.100.1")!, mac: Captured.nodeMAC, evidence: .arp)))
    }

    @Test func advertisementFromAnotherMACIsAConflict() {
        #expect(respond(to: Captured.unsolicitedAdvertisement, context: node(announcing: "2001:db8:1::2"))
            == .conflict(Conflict(address: IPAddress("2001:db8:1::2")!, mac: Captured.peerMAC,
                                  evidence: .neighborAdvertisement)))
    }

    @Test func solicitationFromAnnouncedAddressIsAConflict() {
        #expect(respond(to: Captured.neighborSolicitation, context: node(announcing: "fe80::ff:fe00:2"))
            == .conflict(Conflict(address: IPAddress("fe80::ff:fe00:2")!, mac: Captured.peerMAC,
                                  evidence: .neighborSolicitation)))
    }

    @Test func framesFromAnotherOwnInterfaceAreNotConflicts() {
        // Two interfaces of this announcer on one segment hear each other.
        let context = ResponderContext(mac: Captured.nodeMAC, announced: [IPAddress("198.51.100.2")!],
                                       ownMACs: [Captured.peerMAC])
        #expect(respond(to: Captured.gratuitousRequest, context: context) == .drop(.ownFrame))
    }

    // MARK: Drops, each with its reason

    @Test(arguments: [
        // Ethernet
        (Array(Captured.arpRequest.prefix(13)), DropReason.truncatedEthernet),
        (setting(Captured.arpRequest, 12, 0x08, 0x00), .unsupportedEtherType),
        (setting(Captured.arpRequest, 12, 0x81, 0x00), .unsupportedEtherType),
        // ARP header fields
        (Array(Captured.arpRequest.prefix(20)), .truncatedARP),
        (Array(Captured.arpRequest.prefix(41)), .truncatedARP),
        (setting(Captured.arpRequest, 14, 0x00, 0x06), .arpHardwareType),
        (setting(Captured.arpRequest, 16, 0x86, 0xdd), .arpProtocolType),
        (setting(Captured.arpRequest, 18, 8), .arpHardwareLength),
        (setting(Captured.arpRequest, 19, 16), .arpProtocolLength),
        (setting(Captured.arpRequest, 20, 0x00, 0x03), .arpOperation),
        (setting(Captured.arpRequest, 20, 0x00, 0x00), .arpOperation),
        (setting(Captured.arpRequest, 22, 0x01), .arpInvalidSender),  // group sender MAC
        (setting(Captured.arpRequest, 28, 224), .arpInvalidSender),   // multicast sender IP
        (setting(Captured.arpRequest, 28, 127), .arpInvalidSender),   // loopback sender IP
        (setting(Captured.arpRequest, 0, 0x02, 0, 0, 0, 0, 0x09), .notForUs),
        (setting(Captured.arpRequest, 41, 9), .notAnnounced),
        (Captured.arpReplyFromKernel, .ownFrame),
        (setting(Captured.arpRequest, 20, 0x00, 0x02), .arpReply),
        // IPv6 header
        (Array(Captured.neighborSolicitation.prefix(53)), .truncatedIPv6),
        (setting(Captured.neighborSolicitation, 14, 0x40), .ipv6Version),
        (setting(Captured.neighborSolicitation, 18, 0x00, 0x21), .ipv6PayloadLength),
        (setting(Captured.neighborSolicitation, 20, 17), .notICMPv6),
        (setting(Captured.neighborSolicitation, 20, 0), .notICMPv6),  // hop-by-hop extension header
        // ICMPv6 and RFC 4861 §7.1 validation
        (setting(Captured.neighborSolicitation, 18, 0x00, 0x03), .truncatedICMPv6),
        (Captured.routerSolicitation, .notNeighborDiscovery),
        (setting(Captured.neighborSolicitation, 86 - 1, 0x03), .icmpv6Checksum),
        (setting(Captured.neighborSolicitation, 21, 64), .ndpHopLimit),
        (editingICMPv6(Captured.neighborSolicitation, message: { $0[1] = 1 }), .ndpCode),
        (editingICMPv6(Captured.neighborSolicitation, ip: { $0.payload.removeLast(16) }), .truncatedICMPv6),
        (editingICMPv6(Captured.neighborSolicitation, message: { $0[8] = 0xff }), .ndpMulticastTarget),
        (editingICMPv6(Captured.neighborSolicitation, message: { $0[25] = 0 }), .ndpOption),
        (editingICMPv6(Captured.neighborSolicitation, message: { $0[25] = 2 }), .ndpOption),
        (editingICMPv6(Captured.neighborSolicitation, ip: { $0.source = .unspecified }), .ndpSource),
        (editingICMPv6(Captured.neighborSolicitation, ip: { $0.source = .allNodes }), .ndpSource),
        (editingICMPv6(Captured.duplicateAddressDetection, ip: { $0.destination = IPv6Address("2001:db8:1::2")! }),
         .ndpSource),
        (editingICMPv6(Captured.unsolicitedAdvertisement, message: { $0[4] = 0x60 }), .ndpSolicitedToMulticast),
        (Captured.unsolicitedAdvertisement, .ndpAdvertisement),
        (setting(Captured.neighborSolicitation, 0, 0x02, 0, 0, 0, 0, 0x09), .notForUs),
        (setting(Captured.neighborSolicitation, 77, 0x09), .icmpv6Checksum),
        (editingICMPv6(Captured.neighborSolicitation, message: { $0[23] = 9 }), .notAnnounced),
    ] as [([UInt8], DropReason)])
    func dropsWithReason(_ frame: [UInt8], _ reason: DropReason) {
        let context = node(announcing: "198.51.100.1", "2001:db8:1::1")
        #expect(respond(to: frame, context: context) == .drop(reason))
    }

    @Test func everyPrefixOfEveryCapturedFrameIsDroppedNotCrashed() {
        let context = node(announcing: "198.51.100.1", "198.51.100.2", "2001:db8:1::1", "2001:db8:1::2")
        for frame in Captured.all {
            for length in 0..<frame.count {
                let decision = respond(to: Array(frame.prefix(length)), context: context)
                guard case .drop = decision else {
                    // ARP ignores Ethernet padding: a cut in the padding still answers.
                    #expect(length >= 42, "prefix \(length) of \(frame.count): \(decision)")
                    continue
                }
            }
        }
    }

    @Test func notRequestsAreNotCountedAsRequests() {
        #expect(!ResponderDecision.drop(.arpReply).isRequest)
        #expect(ResponderDecision.drop(.notAnnounced).isRequest)
        #expect(!ResponderDecision.conflict(Conflict(address: IPAddress("192.0.2.1")!, mac: .zero, evidence: .arp)).isRequest)
    }

    @Test func dropReasonLabelsAreUniqueSnakeCase() {
        let labels = DropReason.allCases.map(\.rawValue)
        #expect(Set(labels).count == labels.count)
        #expect(labels.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber } })
    }
}
