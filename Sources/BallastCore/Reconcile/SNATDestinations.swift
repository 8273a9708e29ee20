/// The destinations of an `SNATRule`, sorted (IPv4 before IPv6, as
/// `IPAddress` orders them): IPv4 addresses as one 32-bit word each, IPv6
/// ones beside them.
///
/// The plan holds one list per Cluster-policy Service port with remote
/// endpoints (90,000 addresses at 10,000 Services × 9); as `[IPAddress]`
/// each address took a 24-byte slot, 2.5 MiB in all, against 4 bytes here
/// (issue 5). An empty IPv6 list allocates nothing.
public struct SNATDestinations: Sendable, Hashable, RandomAccessCollection, ExpressibleByArrayLiteral,
                                CustomStringConvertible {
    /// Sorted host-order values (`IPv4Address.value`).
    private(set) var ipv4: [UInt32]
    /// Sorted.
    private(set) var ipv6: [IPv6Address]

    /// `addresses` in any order; repeats are kept.
    public init(_ addresses: some Collection<IPAddress>) {
        // Exact sizes: the lists are kept as long as the plan.
        let v4Count = addresses.reduce(0) { $1.family == .ipv4 ? $0 + 1 : $0 }
        var ipv4: [UInt32] = []
        var ipv6: [IPv6Address] = []
        ipv4.reserveCapacity(v4Count)
        ipv6.reserveCapacity(addresses.count - v4Count)
        for address in addresses {
            switch address {
            case .v4(let v4): ipv4.append(v4.value)
            case .v6(let v6): ipv6.append(v6)
            }
        }
        if !ipv4.isSorted { ipv4.sort() }
        if !ipv6.isSorted { ipv6.sort() }
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    public init(arrayLiteral addresses: IPAddress...) {
        self.init(addresses)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { ipv4.count + ipv6.count }
    public var count: Int { ipv4.count + ipv6.count }
    public var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty }

    public subscript(position: Int) -> IPAddress {
        position < ipv4.count ? .v4(IPv4Address(ipv4[position])) : .v6(ipv6[position - ipv4.count])
    }

    public var description: String { "[" + map(\.description).joined(separator: ", ") + "]" }
}

extension Array where Element: Comparable {
    fileprivate var isSorted: Bool {
        guard count > 1 else { return true }
        for index in 1..<count where self[index] < self[index - 1] { return false }
        return true
    }
}
