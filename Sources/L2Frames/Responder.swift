import BallastCore

/// What the responder knows about the interface a frame arrived on.
public struct ResponderContext: Sendable, Hashable {
    /// The receiving interface's MAC: replies carry it.
    public var mac: MACAddress
    /// Addresses this node announces on this interface, and only those.
    public var announced: Set<IPAddress>
    /// Every MAC this announcer sends from. Frames from them are our own, and
    /// a claim for an announced address from any other MAC is a conflict.
    public var ownMACs: Set<MACAddress>

    public init(mac: MACAddress, announced: Set<IPAddress>, ownMACs: Set<MACAddress> = []) {
        self.mac = mac
        self.announced = announced
        self.ownMACs = ownMACs.union([mac])
    }
}

/// Another station claims an address this node announces: two nodes answer
/// for one address (split brain), and peers flap between them.
public struct Conflict: Sendable, Hashable, CustomStringConvertible {
    public enum Evidence: String, Sendable, Hashable {
        /// ARP packet (request, reply or gratuitous) with the address as sender.
        case arp
        /// Neighbour advertisement for the address.
        case neighborAdvertisement = "neighbor_advertisement"
        /// Neighbour solicitation sent from the address.
        case neighborSolicitation = "neighbor_solicitation"
    }

    public var address: IPAddress
    /// The MAC the other station claims the address for.
    public var mac: MACAddress
    public var evidence: Evidence

    public init(address: IPAddress, mac: MACAddress, evidence: Evidence) {
        self.address = address
        self.mac = mac
        self.evidence = evidence
    }

    public var description: String { "\(address) claimed by \(mac) (\(evidence.rawValue))" }
}

/// A frame to send back, and for which address.
public struct Reply: Sendable, Hashable {
    public var address: IPAddress
    public var frame: [UInt8]

    public init(address: IPAddress, frame: [UInt8]) {
        self.address = address
        self.frame = frame
    }
}

public enum ResponderDecision: Sendable, Hashable {
    case reply(Reply)
    /// Seen and reported; not answered, so as not to fight the other node.
    case conflict(Conflict)
    case drop(DropReason)

    /// True for requests addressed to us, answered or not: the "requests
    /// received" counter counts these.
    public var isRequest: Bool {
        switch self {
        case .reply: true
        case .drop(let reason): reason == .notAnnounced
        case .conflict: false
        }
    }
}

/// The whole responder: one received frame in, the answer (or why none) out.
/// Pure, so every branch is a unit test and a fuzz target.
public func respond(to bytes: [UInt8], context: ResponderContext) -> ResponderDecision {
    do throws(DropReason) {
        let frame = try EthernetFrame(decoding: bytes)
        guard !context.ownMACs.contains(frame.source) else { return .drop(.ownFrame) }
        switch frame.etherType {
        case EtherType.arp:
            return try respondARP(try ARPPacket(decoding: frame.payload), frame: frame, context: context)
        case EtherType.ipv6:
            let packet = try IPv6Packet(decoding: frame.payload)
            return try respondNDP(try NDPMessage(validating: packet), packet: packet, frame: frame, context: context)
        default:
            return .drop(.unsupportedEtherType)
        }
    } catch {
        return .drop(error)
    }
}

private func isForUs(_ frame: EthernetFrame, _ context: ResponderContext) -> Bool {
    frame.destination.isMulticast || frame.destination == context.mac
}

private func respondARP(_ arp: ARPPacket, frame: EthernetFrame, context: ResponderContext) throws(DropReason)
    -> ResponderDecision
{
    guard !arp.senderMAC.isMulticast, !arp.senderIP.isInvalidARPSender else { throw .arpInvalidSender }
    // Any ARP with our address as sender, from a MAC that is not ours, is
    // another node using or announcing that address.
    if context.announced.contains(.v4(arp.senderIP)), !context.ownMACs.contains(arp.senderMAC) {
        return .conflict(Conflict(address: .v4(arp.senderIP), mac: arp.senderMAC, evidence: .arp))
    }
    guard arp.operation == .request else { throw .arpReply }
    guard isForUs(frame, context) else { throw .notForUs }
    guard context.announced.contains(.v4(arp.targetIP)) else { throw .notAnnounced }
    // Unicast to the asker, as the kernel answers. For an RFC 5227 probe
    // (sender 0.0.0.0) the reply's target address is 0.0.0.0 too, which tells
    // the prober the address is taken.
    let reply = ARPPacket(operation: .reply, senderMAC: context.mac, senderIP: arp.targetIP,
                          targetMAC: arp.senderMAC, targetIP: arp.senderIP)
    return .reply(Reply(address: .v4(arp.targetIP), frame: reply.frame(from: context.mac, to: arp.senderMAC)))
}

private func respondNDP(_ message: NDPMessage, packet: IPv6Packet, frame: EthernetFrame,
                        context: ResponderContext) throws(DropReason) -> ResponderDecision
{
    switch message {
    case .advertisement(let na):
        guard context.announced.contains(.v6(na.target)) else { throw .ndpAdvertisement }
        let claimed = na.options.targetLinkLayerAddress ?? frame.source
        guard context.ownMACs.contains(claimed) else {
            return .conflict(Conflict(address: .v6(na.target), mac: claimed, evidence: .neighborAdvertisement))
        }
        throw .ownFrame

    case .solicitation(let ns):
        let senderMAC = ns.options.sourceLinkLayerAddress ?? frame.source
        if context.announced.contains(.v6(packet.source)), !context.ownMACs.contains(senderMAC) {
            return .conflict(Conflict(address: .v6(packet.source), mac: senderMAC, evidence: .neighborSolicitation))
        }
        guard isForUs(frame, context) else { throw .notForUs }
        guard context.announced.contains(.v6(ns.target)) else { throw .notAnnounced }
        // RFC 4861 §7.2.4: answer a duplicate address detection probe (from ::)
        // to all-nodes without S; otherwise unicast to the solicitor with S.
        // O is always set so a takeover overwrites the old node's entry.
        let dad = packet.source.isUnspecified
        let na = NeighborAdvertisement(solicited: !dad, override: true, target: ns.target,
                                       options: [.targetLinkLayerAddress(context.mac)])
        let reply = NDPMessage.advertisement(na).frame(
            from: context.mac, to: dad ? .ipv6AllNodes : senderMAC,
            source: ns.target, destination: dad ? .allNodes : packet.source)
        return .reply(Reply(address: .v6(ns.target), frame: reply))
    }
}
