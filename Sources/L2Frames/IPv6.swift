import BallastCore

/// The fixed IPv6 header (RFC 8200 §3) and the payload it describes.
public struct IPv6Packet: Sendable, Hashable {
    public static let headerLength = 40
    public static let nextHeaderICMPv6: UInt8 = 58

    public var trafficClass: UInt8
    public var flowLabel: UInt32
    public var nextHeader: UInt8
    public var hopLimit: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address
    /// Exactly `payloadLength` bytes: Ethernet padding after it is cut off.
    public var payload: [UInt8]

    public init(trafficClass: UInt8 = 0, flowLabel: UInt32 = 0, nextHeader: UInt8, hopLimit: UInt8,
                source: IPv6Address, destination: IPv6Address, payload: [UInt8]) {
        self.trafficClass = trafficClass
        self.flowLabel = flowLabel & 0xf_ffff
        self.nextHeader = nextHeader
        self.hopLimit = hopLimit
        self.source = source
        self.destination = destination
        self.payload = payload
    }

    public init(decoding bytes: [UInt8]) throws(DropReason) {
        var r = ByteReader(bytes)
        guard let word = r.u32(), let length = r.u16(), let next = r.u8(), let hops = r.u8(),
              let src = r.take(16), let dst = r.take(16) else { throw .truncatedIPv6 }
        guard word >> 28 == 6 else { throw .ipv6Version }
        // A jumbogram (length 0 with a hop-by-hop option) never carries NDP.
        guard let body = r.take(Int(length)) else { throw .ipv6PayloadLength }
        trafficClass = UInt8(truncatingIfNeeded: word >> 20)
        flowLabel = word & 0xf_ffff
        nextHeader = next
        hopLimit = hops
        source = IPv6Address(bytes: src)!
        destination = IPv6Address(bytes: dst)!
        payload = body
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.headerLength + payload.count)
        out.append(u32: 6 << 28 | UInt32(trafficClass) << 20 | flowLabel)
        out.append(u16: UInt16(truncatingIfNeeded: payload.count))
        out += [nextHeader, hopLimit]
        out += source.bytes + destination.bytes + payload
        return out
    }
}

/// The Internet checksum (RFC 1071) of an ICMPv6 message over the IPv6
/// pseudo-header (RFC 8200 §8.1). A message whose checksum field is correct
/// sums to zero.
public func icmpv6Checksum(source: IPv6Address, destination: IPv6Address, message: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    func add(_ bytes: [UInt8]) {
        var i = 0
        while i + 1 < bytes.count {
            sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1])
            i += 2
        }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        // Fold early so the 32-bit accumulator never overflows on big input.
        sum = (sum & 0xffff) + (sum >> 16)
    }
    add(source.bytes)
    add(destination.bytes)
    let length = UInt32(truncatingIfNeeded: message.count)
    sum += length >> 16
    sum += length & 0xffff
    sum += UInt32(IPv6Packet.nextHeaderICMPv6)
    add(message)
    while sum >> 16 != 0 { sum = (sum & 0xffff) + (sum >> 16) }
    return ~UInt16(truncatingIfNeeded: sum)
}
