/// EtherType values this package reads or writes (IEEE 802.3, IANA registry).
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86dd
}

/// An Ethernet II frame without the frame check sequence (the kernel neither
/// hands it to packet sockets nor expects it from them).
public struct EthernetFrame: Sendable, Hashable {
    public static let headerLength = 14
    /// The shortest frame a wire carries, without FCS (IEEE 802.3 64 bytes - 4).
    public static let minimumLength = 60

    public var destination: MACAddress
    public var source: MACAddress
    public var etherType: UInt16
    /// Everything after the header, including any padding a short frame carried.
    public var payload: [UInt8]

    public init(destination: MACAddress, source: MACAddress, etherType: UInt16, payload: [UInt8]) {
        self.destination = destination
        self.source = source
        self.etherType = etherType
        self.payload = payload
    }

    public init(decoding bytes: [UInt8]) throws(DropReason) {
        var r = ByteReader(bytes)
        guard let dst = r.take(6), let src = r.take(6), let type = r.u16() else { throw .truncatedEthernet }
        destination = MACAddress(bytes: dst)!
        source = MACAddress(bytes: src)!
        etherType = type
        payload = r.rest()
    }

    /// The frame's bytes. With `padded`, short frames are zero-filled to the
    /// 60-byte minimum, as NIC drivers would; some do not, and a runt is dropped
    /// by the switch (MetalLB's ethernet package pads for the same reason).
    public func encode(padded: Bool = false) -> [UInt8] {
        var out = destination.bytes + source.bytes
        out.reserveCapacity(max(Self.minimumLength, Self.headerLength + payload.count))
        out.append(u16: etherType)
        out += payload
        if padded && out.count < Self.minimumLength {
            out += [UInt8](repeating: 0, count: Self.minimumLength - out.count)
        }
        return out
    }
}
