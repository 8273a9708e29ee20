import BallastCore

/// A 48-bit IEEE 802 MAC address, as carried in Ethernet headers, ARP and
/// NDP link-layer address options.
public struct MACAddress: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The six octets packed big-endian into the low 48 bits.
    public let value: UInt64

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        value = [a, b, c, d, e, f].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 6 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// "02:00:5e:10:00:01" (case-insensitive, colon-separated, two digits per octet).
    public init?(_ text: String) {
        let fields = text.split(separator: ":", omittingEmptySubsequences: false)
        guard fields.count == 6 else { return nil }
        var octets: [UInt8] = []
        for field in fields {
            guard field.count == 2, let octet = UInt8(field, radix: 16) else { return nil }
            octets.append(octet)
        }
        self.init(bytes: octets)
    }

    public static let broadcast = MACAddress(0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
    public static let zero = MACAddress(0, 0, 0, 0, 0, 0)
    /// The Ethernet group of ff02::1, the IPv6 all-nodes address (RFC 2464 §7).
    public static let ipv6AllNodes = MACAddress(0x33, 0x33, 0, 0, 0, 1)

    public var bytes: [UInt8] { (0..<6).map { UInt8(truncatingIfNeeded: value >> (40 - 8 * UInt64($0))) } }

    /// The I/G bit: group addresses (multicast and broadcast) never source a frame.
    public var isMulticast: Bool { value >> 40 & 1 == 1 }

    /// RFC 2464 §7: an IPv6 multicast address maps to 33:33 followed by its
    /// last four octets. For a solicited-node group this is 33:33:ff:xx:xx:xx.
    public init(ipv6Multicast address: IPv6Address) {
        let b = address.bytes
        self.init(0x33, 0x33, b[12], b[13], b[14], b[15])
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}

extension IPv6Address {
    /// RFC 4291 §2.7.1: ff02::1:ffXX:XXXX, built from the low 24 bits. Nodes
    /// resolve an address by multicasting a solicitation to this group.
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | (low & 0x00ff_ffff))
    }

    public static let allNodes = IPv6Address(high: 0xff02_0000_0000_0000, low: 1)
    public static let unspecified = IPv6Address(high: 0, low: 0)

    public var isMulticast: Bool { high >> 56 == 0xff }
    public var isUnspecified: Bool { high == 0 && low == 0 }

    /// True for ff02::1:ffXX:XXXX, whatever the low 24 bits.
    public var isSolicitedNodeMulticast: Bool {
        high == 0xff02_0000_0000_0000 && low & 0xffff_ffff_ff00_0000 == 0x0000_0001_ff00_0000
    }
}
