// Which part of the kernel's IPVS table Ballast may change. The table is
// shared per network namespace: kube-proxy, keepalived or an operator's
// ipvsadm rules can live next to Ballast's services, so every reconcile only
// ever adds, edits or deletes services whose key this rule owns.

/// The virtual services Ballast is allowed to change: those whose address lies
/// in one of `prefixes`, and those keyed by one of `firewallMarks` (in either
/// address family).
public struct IPVSOwnership: Sendable, Hashable, CustomStringConvertible {
    public let prefixes: [CIDR]
    public let firewallMarks: Set<UInt32>
    /// Single-address prefixes, looked up in constant time: a table file's
    /// default ownership is one /32 per service address, and `owns` runs for
    /// every desired and every observed service.
    private let hosts: Set<IPAddress>
    private let ranges: [CIDR]

    public init(prefixes: [CIDR] = [], firewallMarks: Set<UInt32> = []) {
        self.prefixes = prefixes
        self.firewallMarks = firewallMarks
        hosts = Set(prefixes.filter { $0.prefixLength == $0.family.bitWidth }.map(\.network))
        ranges = prefixes.filter { $0.prefixLength < $0.family.bitWidth }
    }

    /// Owns nothing: a reconcile with it writes nothing and reports every
    /// desired service as a conflict.
    public static let nothing = IPVSOwnership()

    /// Exactly the addresses and marks the given services use: the default of
    /// `ballastctl ipvs apply`, so a table file only ever claims what it names.
    public init(covering services: some Sequence<IPVSVirtualService>) {
        var addresses: Set<IPAddress> = []
        var marks: Set<UInt32> = []
        for service in services {
            switch service.key {
            case .address(let address, _, _): addresses.insert(address)
            case .firewallMark(let mark, _): marks.insert(mark)
            }
        }
        self.init(prefixes: addresses.sorted().map { CIDR(host: $0) }, firewallMarks: marks)
    }

    public func owns(_ key: VirtualServiceKey) -> Bool {
        switch key {
        case .address(let address, _, _): hosts.contains(address) || ranges.contains { $0.contains(address) }
        case .firewallMark(let mark, _): firewallMarks.contains(mark)
        }
    }

    public var isEmpty: Bool { prefixes.isEmpty && firewallMarks.isEmpty }

    /// "192.0.2.0/24, 2001:db8::/64, fwmark 7" or "nothing".
    public var description: String {
        let parts = prefixes.sorted().map(\.description) + firewallMarks.sorted().map { "fwmark \($0)" }
        return parts.isEmpty ? "nothing" : parts.joined(separator: ", ")
    }
}
