/// A network prefix such as 192.0.2.0/24 or 2001:db8::/64.
public struct CIDR: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The network address (host bits zero).
    public let network: IPAddress
    public let prefixLength: Int

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case badAddress(String)
        case badPrefix(String)
        case hostBitsSet(given: String, network: String)

        public var description: String {
            switch self {
            case .badAddress(let s): "\"\(s)\" is not an IPv4 or IPv6 address"
            case .badPrefix(let s): "\"\(s)\" has a prefix length out of range (0-32 for IPv4, 0-128 for IPv6)"
            case .hostBitsSet(let g, let n): "\"\(g)\" has host bits set; did you mean \(n)?"
            }
        }
    }

    /// Strict: "10.0.0.1/24" (host bits set) is an error naming the network meant.
    public init(parsing text: String, strict: Bool = true) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, let addr = IPAddress(String(first)) else { throw .badAddress(text) }
        let plen: Int
        if parts.count == 1 {
            plen = addr.family.bitWidth
        } else {
            guard parts.count == 2, let p = Int(parts[1]), (0...addr.family.bitWidth).contains(p),
                  parts[1].allSatisfy({ $0.isASCII && $0.isNumber }) else { throw .badPrefix(text) }
            plen = p
        }
        let net = CIDR.mask(addr, plen)
        if strict && net != addr {
            throw .hostBitsSet(given: text, network: "\(net)/\(plen)")
        }
        self.network = net
        self.prefixLength = plen
    }

    public init?(_ description: String) {
        guard let c = try? CIDR(parsing: description) else { return nil }
        self = c
    }

    public init(network: IPAddress, prefixLength: Int) {
        precondition((0...network.family.bitWidth).contains(prefixLength))
        self.network = CIDR.mask(network, prefixLength)
        self.prefixLength = prefixLength
    }

    /// The /32 or /128 holding exactly one address.
    public init(host: IPAddress) {
        self.init(network: host, prefixLength: host.family.bitWidth)
    }

    public var family: AddressFamily { network.family }

    public var description: String { "\(network)/\(prefixLength)" }

    public func contains(_ a: IPAddress) -> Bool {
        a.family == family && CIDR.mask(a, prefixLength) == network
    }

    public func contains(_ other: CIDR) -> Bool {
        other.family == family && other.prefixLength >= prefixLength && contains(other.network)
    }

    public func overlaps(_ other: CIDR) -> Bool { contains(other) || other.contains(self) }

    /// Last address of the prefix (the broadcast address for IPv4).
    public var last: IPAddress {
        switch network {
        case .v4(let a):
            let hostMask: UInt32 = prefixLength == 0 ? .max : (prefixLength == 32 ? 0 : (UInt32.max >> UInt32(prefixLength)))
            return .v4(IPv4Address(a.value | hostMask))
        case .v6(let a):
            let (hm, lm) = CIDR.v6HostMask(prefixLength)
            return .v6(IPv6Address(high: a.high | hm, low: a.low | lm))
        }
    }

    /// Number of addresses, saturating at UInt64.max for huge IPv6 prefixes.
    public var size: UInt64 {
        let hostBits = family.bitWidth - prefixLength
        return hostBits >= 64 ? .max : (UInt64(1) << UInt64(hostBits))
    }

    public static func mask(_ a: IPAddress, _ plen: Int) -> IPAddress {
        switch a {
        case .v4(let x):
            let m: UInt32 = plen == 0 ? 0 : UInt32.max << UInt32(32 - plen)
            return .v4(IPv4Address(x.value & m))
        case .v6(let x):
            let (hm, lm) = v6HostMask(plen)
            return .v6(IPv6Address(high: x.high & ~hm, low: x.low & ~lm))
        }
    }

    static func v6HostMask(_ plen: Int) -> (UInt64, UInt64) {
        if plen >= 128 { return (0, 0) }
        if plen >= 64 { return (0, plen == 64 ? .max : UInt64.max >> UInt64(plen - 64)) }
        return (plen == 0 ? .max : UInt64.max >> UInt64(plen), .max)
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.network, a.prefixLength) < (b.network, b.prefixLength)
    }
}

extension CIDR: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        do { try self.init(parsing: s) } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.description)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
