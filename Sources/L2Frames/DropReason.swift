/// Why a received frame got no answer. Dropping input is a decision with a
/// value, as in MetalLB's internal/layer2/arp.go: the responder returns one of
/// these, tests assert it, and the announcer counts it. The raw values are the
/// `reason` metric label, a bounded set by construction.
public enum DropReason: String, Sendable, Hashable, CaseIterable, Error, CustomStringConvertible {
    // Ethernet
    case truncatedEthernet = "truncated_ethernet"
    case unsupportedEtherType = "unsupported_ethertype"
    /// Our own frame came back (a bridge or hairpin reflecting it).
    case ownFrame = "own_frame"
    /// Unicast to another station: only seen when the interface is promiscuous
    /// (a bridge port, a running tcpdump). The kernel ignores these too.
    case notForUs = "not_for_us"

    // ARP (RFC 826 over Ethernet: hardware type 1, IPv4, lengths 6 and 4)
    case truncatedARP = "truncated_arp"
    case arpHardwareType = "arp_hardware_type"
    case arpProtocolType = "arp_protocol_type"
    case arpHardwareLength = "arp_hardware_length"
    case arpProtocolLength = "arp_protocol_length"
    case arpOperation = "arp_operation"
    /// Sender is a group MAC or a multicast, broadcast or loopback IPv4
    /// address: answering would send a unicast reply nowhere useful.
    case arpInvalidSender = "arp_invalid_sender"
    /// A reply (or gratuitous reply) about an address we do not announce.
    case arpReply = "arp_reply"

    // IPv6 and ICMPv6
    case truncatedIPv6 = "truncated_ipv6"
    case ipv6Version = "ipv6_version"
    /// The payload length field claims more bytes than the frame holds.
    case ipv6PayloadLength = "ipv6_payload_length"
    /// Next header is not ICMPv6 (extension headers included: a neighbour
    /// solicitation carries none in practice, and Linux ignores such NS too).
    case notICMPv6 = "not_icmpv6"
    case truncatedICMPv6 = "truncated_icmpv6"
    case icmpv6Checksum = "icmpv6_checksum"
    /// ICMPv6 other than neighbour solicitation or advertisement.
    case notNeighborDiscovery = "not_neighbor_discovery"
    /// RFC 4861 §7.1: hop limit must be 255, proving the sender is on-link.
    case ndpHopLimit = "ndp_hop_limit"
    /// RFC 4861 §7.1: ICMP code must be 0.
    case ndpCode = "ndp_code"
    /// RFC 4861 §7.1: the target must not be a multicast address.
    case ndpMulticastTarget = "ndp_multicast_target"
    /// RFC 4861 §7.1: an option of length zero, or one running past the message.
    case ndpOption = "ndp_option"
    /// RFC 4861 §7.1.1: a solicitation from the unspecified address (duplicate
    /// address detection) must go to a solicited-node group and carry no source
    /// link-layer address; and no solicitation comes from a multicast source.
    case ndpSource = "ndp_source"
    /// RFC 4861 §7.1.2: an advertisement to a multicast group must not have the
    /// solicited flag.
    case ndpSolicitedToMulticast = "ndp_solicited_to_multicast"
    /// An advertisement about an address we do not announce.
    case ndpAdvertisement = "ndp_advertisement"

    /// A well-formed request (ARP request or neighbour solicitation) for an
    /// address this node does not announce on this interface.
    case notAnnounced = "not_announced"

    public var description: String { rawValue }
}
