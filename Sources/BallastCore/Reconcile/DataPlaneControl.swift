// Protocols for the kernel objects besides IPVS that Ballast owns: the VIP
// addresses on its dummy link, and its nftables table for source NAT.
// Implementations: LinkAddress (rtnetlink via libnl-route-3), NFTables
// (libnftables); in-memory fakes in BallastFakes.

/// Cluster traffic policy needs source NAT: packets that IPVS forwards from a
/// virtual service to `destinations` (endpoints on other nodes) leave with the
/// node's address, so replies come back through this node.
public struct SNATRule: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var `protocol`: IPVSProtocol
    /// Destinations (real servers) whose traffic from this VIP:port is masqueraded, sorted.
    public var destinations: SNATDestinations

    public init(address: IPAddress, port: UInt16, protocol: IPVSProtocol, destinations: some Collection<IPAddress>) {
        self.address = address
        self.port = port
        self.protocol = `protocol`
        self.destinations = SNATDestinations(destinations)
    }

    public var description: String {
        "masquerade \(`protocol`.upperName) \(address.withPort(port)) → \(destinations.map(\.description).joined(separator: ", "))"
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.address, a.port, a.protocol.number) < (b.address, b.port, b.protocol.number)
    }
}

/// Error from a data-plane operation, naming what was attempted.
public struct DataPlaneError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: String
    public var errno: Int32
    public var reason: String

    public init(operation: String, errno: Int32 = 0, reason: String) {
        self.operation = operation
        self.errno = errno
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

/// The VIPs held locally (so IPVS sees packets to them) on a dummy link of
/// Ballast's own, which is NOARP so that only the announcer answers ARP/NDP.
public protocol VIPControl: Sendable {
    /// Creates the link if missing (NOARP, up). Idempotent.
    func ensureLink() throws(DataPlaneError)
    /// Addresses currently on the link (host prefixes only).
    func addresses() throws(DataPlaneError) -> Set<IPAddress>
    func add(_ address: IPAddress) throws(DataPlaneError)
    func remove(_ address: IPAddress) throws(DataPlaneError)
    /// Deletes the link and with it every address (`ballastd cleanup`).
    func removeLink() throws(DataPlaneError)
}

/// Ballast's own nftables table holding the source NAT. It holds two sets per
/// address family rather than one rule per VIP:port (see `SNATTable`), so a
/// change is a handful of element adds and deletes.
public protocol SNATControl: Sendable {
    /// What the table holds, or nil when the table does not exist or holds
    /// something the implementation did not write (an edit by hand, another
    /// mark, the layout of an older version): either way it must be replaced.
    func current() throws(DataPlaneError) -> SNATTable?
    /// What the table holds, asked by a caller that wants it to hold
    /// `table`: an implementation may answer `table` without reading the
    /// elements back when it can show that the table holds it
    /// (`RememberedSNATControl` at start). Otherwise, and by default, `current()`.
    func current(expecting table: SNATTable) throws(DataPlaneError) -> SNATTable?
    /// Whether the table provably holds `table` as this implementation last
    /// wrote it, shown without listing the elements (NFTablesSNAT: a digest
    /// written in the same transaction as the elements). Blind to elements
    /// changed by hand since, so only a caller that lists everything later
    /// may rely on it; false (the default) means "not shown".
    func holdsAsWritten(_ table: SNATTable) throws(DataPlaneError) -> Bool
    /// Replaces the whole table atomically with one holding exactly `table`
    /// (start-up mismatch, drift repair, and a table becoming empty or not).
    func replace(with table: SNATTable) throws(DataPlaneError)
    /// Adds and deletes the elements of `change` in one transaction on a
    /// table that holds Ballast's layout with at least one element. Fails,
    /// changing nothing, when an element to delete is missing (the table
    /// drifted): the caller reads the table again and repairs it.
    func update(_ change: SNATTableChange) throws(DataPlaneError)
    /// Deletes the table (`ballastd cleanup`).
    func removeTable() throws(DataPlaneError)
}

extension SNATControl {
    public func current(expecting table: SNATTable) throws(DataPlaneError) -> SNATTable? { try current() }
    public func holdsAsWritten(_ table: SNATTable) throws(DataPlaneError) -> Bool { false }
}
