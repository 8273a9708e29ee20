import BallastCore

// The announcer's doors to the kernel, declared here in the pure layer so the
// in-memory fakes (BallastFakes) and the Linux implementations (L2Announce)
// share them, and the announcer's logic runs in unit tests without root.

/// A network interface as the announcer sees it.
public struct NetworkInterface: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// The kernel's ifindex. A link deleted and created again under the same
    /// name gets a new one, and its packet sockets must be opened anew.
    public var index: Int32
    /// Nil unless the link is Ethernet-like (ARPHRD_ETHER with a 6-byte address).
    public var mac: MACAddress?
    /// Administratively up (IFF_UP) and with carrier (IFF_RUNNING).
    public var isUp: Bool
    /// IFF_NOARP: the link does not resolve addresses, as Ballast's own dummy
    /// link holding the VIPs. Never an announcement interface.
    public var isNOARP: Bool
    public var isLoopback: Bool
    /// The on-link prefixes of the interface's addresses (10.0.0.5/24 gives
    /// 10.0.0.0/24): automatic selection announces an address where it is on-link.
    public var networks: [CIDR]

    public init(name: String, index: Int32, mac: MACAddress?, isUp: Bool = true, isNOARP: Bool = false,
                isLoopback: Bool = false, networks: [CIDR] = []) {
        self.name = name
        self.index = index
        self.mac = mac
        self.isUp = isUp
        self.isNOARP = isNOARP
        self.isLoopback = isLoopback
        self.networks = networks
    }

    /// Whether ARP/NDP announcements can go out of this interface at all.
    public var canAnnounce: Bool { isUp && !isNOARP && !isLoopback && mac != nil }

    public var description: String { "\(name) (index \(index))" }
}

/// Lists interfaces and reads and writes the per-interface kernel settings
/// the announcer depends on (/proc/sys/net/ipv4/conf/IFACE/arp_*).
public protocol InterfaceDirectory: Sendable {
    func interfaces() throws(DataPlaneError) -> [NetworkInterface]
    /// The value of a sysctl, `key` being its path under /proc/sys
    /// ("net/ipv4/conf/eth0/arp_ignore"), without the trailing newline.
    func sysctl(_ key: String) throws(DataPlaneError) -> String
    func setSysctl(_ key: String, to value: String) throws(DataPlaneError)
}

/// Opens raw link-layer access to interfaces.
public protocol PacketNetwork: Sendable {
    /// Raw access to ARP and neighbour discovery frames on `interface`.
    func open(_ interface: NetworkInterface) throws(DataPlaneError) -> any PacketPort
}

/// Raw ARP and neighbour discovery traffic of one interface: receives ARP
/// frames and ICMPv6 neighbour solicitations/advertisements, sends whole frames.
public protocol PacketPort: AnyObject, Sendable {
    /// Delivers every received frame to `handler`, on the port's own thread,
    /// until `close()`. Called once.
    func start(_ handler: @escaping @Sendable ([UInt8]) -> Void)
    /// Sends one complete Ethernet frame (without FCS). After `close()` the
    /// frame is dropped silently: a send racing the close never reaches a
    /// reused descriptor.
    func send(_ frame: [UInt8]) throws(DataPlaneError)
    /// Receive exactly these link-layer multicast groups in addition to
    /// broadcast and our unicast address: the solicited-node groups
    /// (33:33:ff:xx:xx:xx) of the IPv6 addresses announced here, which the
    /// NIC would otherwise filter out.
    func setMulticastGroups(_ groups: Set<MACAddress>) throws(DataPlaneError)
    /// Stops delivery (waiting for the receiving thread), releases the
    /// handler (breaking the cycle through it) and the sockets. Idempotent.
    func close()
}
