/// How the announcer announces. Defaults follow MetalLB and keepalived:
/// five gratuitous rounds one second apart on takeover, no periodic refresh.
public struct L2AnnounceSettings: Sendable, Hashable {
    /// Gratuitous rounds sent when this node starts announcing an address on
    /// an interface (one round: gratuitous ARP request and reply, or one
    /// unsolicited neighbour advertisement). The first goes out at once.
    public var garpCount: Int
    /// Time between the rounds of a burst.
    public var garpInterval: Duration
    /// When set, one more round per address every this long after the burst,
    /// to keep switch forwarding tables and neighbour caches warm where they
    /// age out entries of quiet hosts (metallb#2910). Off by default.
    public var refreshInterval: Duration?
    /// How often interfaces are listed again to notice links that appear,
    /// disappear, go up or down, or change MAC.
    public var rescanInterval: Duration
    /// Set arp_ignore=1 and arp_announce=2 on every interface that can
    /// announce (see docs/l2-announcement.md). Turn off only when the host's
    /// configuration management sets them.
    public var manageSysctls: Bool

    public init(garpCount: Int = 5, garpInterval: Duration = .seconds(1), refreshInterval: Duration? = nil,
                rescanInterval: Duration = .seconds(5), manageSysctls: Bool = true) {
        precondition(garpCount >= 1, "garpCount must be at least 1")
        precondition(refreshInterval.map { $0 > .zero } ?? true, "refreshInterval must be positive")
        self.garpCount = garpCount
        self.garpInterval = garpInterval
        self.refreshInterval = refreshInterval
        self.rescanInterval = rescanInterval
        self.manageSysctls = manageSysctls
    }
}

/// Where to announce an address.
public enum L2InterfaceSelection: Sendable, Hashable {
    /// On the interface(s) whose subnet contains the address: the longest
    /// matching prefix among up, ARP-capable Ethernet interfaces.
    case automatic
    /// On exactly these interfaces (those of them that exist and can announce).
    case interfaces([String])
}
