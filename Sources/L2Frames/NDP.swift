import BallastCore

/// A Neighbor Discovery option (RFC 4861 §4.6). Link-layer address options
/// are decoded for Ethernet (length 1, six octets); the rest are kept as bytes.
public enum NDPOption: Sendable, Hashable {
    case sourceLinkLayerAddress(MACAddress)
    case targetLinkLayerAddress(MACAddress)
    /// Any other option: its type and the bytes after the type and length octets.
    case other(type: UInt8, data: [UInt8])

    static func decodeAll(_ bytes: [UInt8]) throws(DropReason) -> [NDPOption] {
        var r = ByteReader(bytes)
        var options: [NDPOption] = []
        while r.remaining > 0 {
            // Length is in units of 8 octets and covers the type and length octets.
            guard let type = r.u8(), let units = r.u8(), units > 0,
                  let data = r.take(Int(units) * 8 - 2) else { throw .ndpOption }
            switch (type, units) {
            case (1, 1): options.append(.sourceLinkLayerAddress(MACAddress(bytes: data[0..<6])!))
            case (2, 1): options.append(.targetLinkLayerAddress(MACAddress(bytes: data[0..<6])!))
            default: options.append(.other(type: type, data: data))
            }
        }
        return options
    }

    func encode() -> [UInt8] {
        switch self {
        case .sourceLinkLayerAddress(let mac):
            return [1, 1] + mac.bytes
        case .targetLinkLayerAddress(let mac):
            return [2, 1] + mac.bytes
        case .other(let type, let data):
            // Pad to a multiple of 8 octets, as the length field can say nothing else.
            let padded = data + [UInt8](repeating: 0, count: (8 - (data.count + 2) % 8) % 8)
            return [type, UInt8(truncatingIfNeeded: (padded.count + 2) / 8)] + padded
        }
    }
}

extension [NDPOption] {
    public var sourceLinkLayerAddress: MACAddress? {
        for case .sourceLinkLayerAddress(let mac) in self { return mac }
        return nil
    }

    public var targetLinkLayerAddress: MACAddress? {
        for case .targetLinkLayerAddress(let mac) in self { return mac }
        return nil
    }
}

/// Neighbour solicitation (ICMPv6 type 135, RFC 4861 §4.3).
public struct NeighborSolicitation: Sendable, Hashable {
    public static let type: UInt8 = 135
    public var target: IPv6Address
    public var options: [NDPOption]

    public init(target: IPv6Address, options: [NDPOption] = []) {
        self.target = target
        self.options = options
    }
}

/// Neighbour advertisement (ICMPv6 type 136, RFC 4861 §4.4).
public struct NeighborAdvertisement: Sendable, Hashable {
    public static let type: UInt8 = 136
    /// R: the sender is a router. Ballast never is for the addresses it announces.
    public var router: Bool
    /// S: this answers a solicitation (and confirms reachability).
    public var solicited: Bool
    /// O: replace the cached link-layer address. Set for every Ballast
    /// advertisement: a takeover must overwrite the previous node's entry.
    public var override: Bool
    public var target: IPv6Address
    public var options: [NDPOption]

    public init(router: Bool = false, solicited: Bool, override: Bool = true, target: IPv6Address,
                options: [NDPOption] = []) {
        self.router = router
        self.solicited = solicited
        self.override = override
        self.target = target
        self.options = options
    }
}

/// The two Neighbor Discovery messages the responder handles, validated.
public enum NDPMessage: Sendable, Hashable {
    case solicitation(NeighborSolicitation)
    case advertisement(NeighborAdvertisement)

    /// Fixed part shared by NS and NA: type, code, checksum, 4 octets, target.
    static let fixedLength = 24

    /// Decodes and validates the ICMPv6 payload of `packet` per RFC 4861
    /// §7.1.1 (NS) and §7.1.2 (NA). The IP source and destination checks that
    /// need the NS/NA body are done here too.
    public init(validating packet: IPv6Packet) throws(DropReason) {
        guard packet.nextHeader == IPv6Packet.nextHeaderICMPv6 else { throw .notICMPv6 }
        let message = packet.payload
        var r = ByteReader(message)
        guard let type = r.u8(), let code = r.u8(), r.u16() != nil else { throw .truncatedICMPv6 }
        guard type == NeighborSolicitation.type || type == NeighborAdvertisement.type else {
            throw .notNeighborDiscovery
        }
        guard icmpv6Checksum(source: packet.source, destination: packet.destination, message: message) == 0 else {
            throw .icmpv6Checksum
        }
        // Off-link senders cannot forge NDP: routers decrement the hop limit.
        guard packet.hopLimit == 255 else { throw .ndpHopLimit }
        guard code == 0 else { throw .ndpCode }
        guard let flags = r.u32(), let targetBytes = r.take(16) else { throw .truncatedICMPv6 }
        let target = IPv6Address(bytes: targetBytes)!
        guard !target.isMulticast else { throw .ndpMulticastTarget }
        let options = try NDPOption.decodeAll(r.rest())

        if type == NeighborSolicitation.type {
            if packet.source.isUnspecified {
                guard packet.destination.isSolicitedNodeMulticast,
                      options.sourceLinkLayerAddress == nil else { throw .ndpSource }
            }
            guard !packet.source.isMulticast else { throw .ndpSource }
            self = .solicitation(NeighborSolicitation(target: target, options: options))
        } else {
            let solicited = flags & 0x4000_0000 != 0
            guard !(solicited && packet.destination.isMulticast) else { throw .ndpSolicitedToMulticast }
            self = .advertisement(NeighborAdvertisement(
                router: flags & 0x8000_0000 != 0, solicited: solicited, override: flags & 0x2000_0000 != 0,
                target: target, options: options))
        }
    }

    /// The ICMPv6 message with its checksum for the given IP addresses.
    public func encode(source: IPv6Address, destination: IPv6Address) -> [UInt8] {
        var out: [UInt8] = []
        let target: IPv6Address, options: [NDPOption], flags: UInt32
        switch self {
        case .solicitation(let ns):
            out += [NeighborSolicitation.type, 0, 0, 0]
            (target, options, flags) = (ns.target, ns.options, 0)
        case .advertisement(let na):
            out += [NeighborAdvertisement.type, 0, 0, 0]
            (target, options) = (na.target, na.options)
            flags = (na.router ? 0x8000_0000 : 0) | (na.solicited ? 0x4000_0000 : 0) | (na.override ? 0x2000_0000 : 0)
        }
        out.append(u32: flags)
        out += target.bytes
        for option in options { out += option.encode() }
        let sum = icmpv6Checksum(source: source, destination: destination, message: out)
        out[2] = UInt8(sum >> 8)
        out[3] = UInt8(sum & 0xff)
        return out
    }

    /// A complete Ethernet frame: IPv6 with hop limit 255 (RFC 4861 requires
    /// it of every NDP message) around this message.
    public func frame(from sourceMAC: MACAddress, to destinationMAC: MACAddress,
                      source: IPv6Address, destination: IPv6Address) -> [UInt8] {
        let ip = IPv6Packet(nextHeader: IPv6Packet.nextHeaderICMPv6, hopLimit: 255, source: source,
                            destination: destination, payload: encode(source: source, destination: destination))
        return EthernetFrame(destination: destinationMAC, source: sourceMAC, etherType: EtherType.ipv6,
                             payload: ip.encode()).encode()
    }
}
