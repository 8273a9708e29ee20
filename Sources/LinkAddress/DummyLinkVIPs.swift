import BallastCore
import CNetlinkRoute
import Glibc
import Logging

/// The virtual IPs held on a dummy link of Ballast's own (kube-proxy's
/// kube-ipvs0 pattern): IPVS only sees packets addressed to a local address,
/// and a dummy link makes the VIPs local without attaching them to a real
/// network.
///
/// The link is NOARP, but that alone does not stop the kernel from answering
/// ARP for these addresses on *other* interfaces (Linux answers for any local
/// address by default); `net.ipv4.conf.<announce>.arp_ignore` does, and the L2
/// announcer sets it. See docs/dataplane.md.
///
/// Only ever touches the link named `linkName`, and only if it is a dummy
/// link. Every operation opens its own rtnetlink socket in the network
/// namespace of the calling thread.
public final class DummyLinkVIPs: VIPControl {
    public static let defaultLinkName = "ballast0"

    public let linkName: String
    private let logger: Logger

    /// Throws when `linkName` cannot be a Linux interface name (libnl would
    /// silently truncate a long one, and we must never touch another link).
    public init(linkName: String = DummyLinkVIPs.defaultLinkName,
                logger: Logger = Logger(label: "ballast.vip")) throws(DataPlaneError) {
        if let problem = Self.invalidLinkNameReason(linkName) {
            throw DataPlaneError(operation: "use link \"\(linkName)\"", errno: EINVAL, reason: problem)
        }
        self.linkName = linkName
        self.logger = logger
    }

    /// Why `name` is not a valid interface name, or nil when it is (the
    /// kernel's dev_valid_name: 1-15 bytes, no "/", ":" or white space).
    public static func invalidLinkNameReason(_ name: String) -> String? {
        if name.isEmpty || name.utf8.count > 15 { return "an interface name has 1 to 15 bytes" }
        if name == "." || name == ".." { return "\".\" and \"..\" are not interface names" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "an interface name contains no \"/\", \":\" or white space"
        }
        return nil
    }

    public func ensureLink() throws(DataPlaneError) {
        let socket = try RouteSocket(for: "ensure link \(linkName)")
        if try updateExistingLink(socket) { return }
        do throws(DataPlaneError) {
            try createLink(socket)
            logger.info("created VIP link", metadata: ["vip.link": "\(linkName)"])
        } catch let error where error.errno == EEXIST {
            // Created by someone else between our lookup and our add.
            guard try updateExistingLink(socket) else { throw error }
        }
    }

    public func addresses() throws(DataPlaneError) -> Set<IPAddress> {
        let operation = "list addresses of \(linkName)"
        let socket = try RouteSocket(for: operation)
        let ifindex = try requireLink(socket, operation: operation)
        var cache: OpaquePointer?
        try socket.perform(operation) { rtnl_addr_alloc_cache($0, &cache) }
        defer { nl_cache_free(cache) }
        var result: Set<IPAddress> = []
        var object = nl_cache_get_first(cache)
        while let addr = object {
            if rtnl_addr_get_ifindex(addr) == ifindex, let local = rtnl_addr_get_local(addr),
               let address = IPAddress(libnl: local),
               rtnl_addr_get_prefixlen(addr) == address.family.bitWidth {
                result.insert(address)
            }
            object = nl_cache_get_next(addr)
        }
        return result
    }

    /// Adds `address` as a /32 or /128. Idempotent: an address already there
    /// is updated in place (NLM_F_REPLACE), not an error.
    public func add(_ address: IPAddress) throws(DataPlaneError) {
        let operation = "add address \(CIDR(host: address)) to \(linkName)"
        try changeAddress(address, operation: operation) { socket, addr throws(DataPlaneError) in
            try socket.perform(operation) { rtnl_addr_add($0, addr, NLM_F_CREATE | NLM_F_REPLACE) }
        }
        logger.debug("added VIP", metadata: ["vip.link": "\(linkName)", "vip.address": "\(address)"])
    }

    /// Removes `address`. Idempotent: an address (or link) already gone is not an error.
    public func remove(_ address: IPAddress) throws(DataPlaneError) {
        let operation = "remove address \(CIDR(host: address)) from \(linkName)"
        do throws(DataPlaneError) {
            try changeAddress(address, operation: operation) { socket, addr throws(DataPlaneError) in
                try socket.perform(operation) { rtnl_addr_delete($0, addr, 0) }
            }
        } catch let error where error.errno == EADDRNOTAVAIL || error.errno == ENODEV {
            return
        }
        logger.debug("removed VIP", metadata: ["vip.link": "\(linkName)", "vip.address": "\(address)"])
    }

    /// Deletes the link and with it every VIP. Idempotent; refuses to delete a
    /// link of that name that is not a dummy link.
    public func removeLink() throws(DataPlaneError) {
        let operation = "delete link \(linkName)"
        let socket = try RouteSocket(for: operation)
        let deleted: Void? = try withLink(socket, operation: operation) { link throws(DataPlaneError) in
            try requireDummy(link, operation: operation)
            try socket.perform(operation) { rtnl_link_delete($0, link) }
        }
        if deleted != nil { logger.info("deleted VIP link", metadata: ["vip.link": "\(linkName)"]) }
    }

    // MARK: - Link

    /// The flags the link must carry: up (so that its addresses are usable) and
    /// NOARP (so that it never answers ARP itself; it has no wire anyway, but
    /// NOARP also makes the kernel skip IPv6 duplicate address detection).
    private static let requiredFlags = UInt32(IFF_UP.rawValue | IFF_NOARP.rawValue)

    /// Runs `body` with the kernel's view of the link; nil when no link has our name.
    private func withLink<T>(
        _ socket: borrowing RouteSocket, operation: String,
        _ body: (OpaquePointer) throws(DataPlaneError) -> T
    ) throws(DataPlaneError) -> T? {
        var found: OpaquePointer?
        do throws(DataPlaneError) {
            try socket.perform(operation) { rtnl_link_get_kernel($0, 0, linkName, &found) }
        } catch let error where error.errno == ENODEV {
            return nil
        }
        guard let link = found else { return nil }
        defer { rtnl_link_put(link) }
        return try body(link)
    }

    private func requireDummy(_ link: OpaquePointer, operation: String) throws(DataPlaneError) {
        let kind = rtnl_link_get_type(link).map { String(cString: $0) }
        guard kind == "dummy" else {
            let what = kind.map { "a \($0) link" } ?? "a link without a kind (physical or loopback)"
            throw DataPlaneError(operation: operation, errno: EEXIST,
                                 reason: "\(linkName) exists but is \(what), not Ballast's dummy link; refusing to touch it")
        }
    }

    /// The index of our dummy link; throws ENODEV when it is missing.
    private func requireLink(_ socket: borrowing RouteSocket, operation: String) throws(DataPlaneError) -> Int32 {
        let ifindex = try withLink(socket, operation: operation) { link throws(DataPlaneError) in
            try requireDummy(link, operation: operation)
            return rtnl_link_get_ifindex(link)
        }
        guard let ifindex else {
            throw DataPlaneError(operation: operation, errno: ENODEV,
                                 reason: "\(describeErrno(ENODEV)); link \(linkName) does not exist")
        }
        return ifindex
    }

    /// Brings an existing dummy link to the required flags. False when there is
    /// no link of our name.
    private func updateExistingLink(_ socket: borrowing RouteSocket) throws(DataPlaneError) -> Bool {
        let operation = "ensure link \(linkName)"
        let updated: Void? = try withLink(socket, operation: operation) { link throws(DataPlaneError) in
            try requireDummy(link, operation: operation)
            guard rtnl_link_get_flags(link) & Self.requiredFlags != Self.requiredFlags else { return }
            let change = "set link \(linkName) up and NOARP"
            guard let wanted = rtnl_link_alloc() else {
                throw DataPlaneError(operation: change, errno: ENOMEM, reason: describeErrno(ENOMEM))
            }
            defer { rtnl_link_put(wanted) }
            rtnl_link_set_flags(wanted, Self.requiredFlags)
            try socket.perform(change) { rtnl_link_change($0, link, wanted, 0) }
            logger.info("set VIP link up and NOARP", metadata: ["vip.link": "\(linkName)"])
        }
        return updated != nil
    }

    private func createLink(_ socket: borrowing RouteSocket) throws(DataPlaneError) {
        let operation = "create link \(linkName)"
        guard let link = rtnl_link_alloc() else {
            throw DataPlaneError(operation: operation, errno: ENOMEM, reason: describeErrno(ENOMEM))
        }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, linkName)
        try socket.perform(operation) { _ in rtnl_link_set_type(link, "dummy") }
        // The kernel applies ifi_flags/ifi_change right after creating the
        // link, so it appears already up and NOARP: no window where it is not.
        rtnl_link_set_flags(link, Self.requiredFlags)
        try socket.perform(operation) { rtnl_link_add($0, link, NLM_F_CREATE | NLM_F_EXCL) }
    }

    // MARK: - Addresses

    private func changeAddress(
        _ address: IPAddress, operation: String,
        _ request: (borrowing RouteSocket, OpaquePointer) throws(DataPlaneError) -> Void
    ) throws(DataPlaneError) {
        let socket = try RouteSocket(for: operation)
        let ifindex = try requireLink(socket, operation: operation)
        guard let addr = rtnl_addr_alloc() else {
            throw DataPlaneError(operation: operation, errno: ENOMEM, reason: describeErrno(ENOMEM))
        }
        defer { rtnl_addr_put(addr) }
        let family = Int32(address.family.kernelValue)
        let bytes = address.bytes
        guard let local = bytes.withUnsafeBytes({ nl_addr_build(family, $0.baseAddress, $0.count) }) else {
            throw DataPlaneError(operation: operation, errno: ENOMEM, reason: describeErrno(ENOMEM))
        }
        defer { nl_addr_put(local) }
        nl_addr_set_prefixlen(local, Int32(address.family.bitWidth))
        rtnl_addr_set_ifindex(addr, ifindex)
        rtnl_addr_set_family(addr, family)
        rtnl_addr_set_prefixlen(addr, Int32(address.family.bitWidth))
        try socket.perform(operation) { _ in rtnl_addr_set_local(addr, local) }
        if address.family == .ipv6 {
            // NODAD: usable at once, never "tentative" (NOARP already skips DAD;
            // say so explicitly in case the link is ever not NOARP).
            // NOPREFIXROUTE: no redundant /128 route in the main table; the
            // local table's route is what makes the address local.
            rtnl_addr_set_flags(addr, UInt32(IFA_F_NODAD | IFA_F_NOPREFIXROUTE))
        }
        try request(socket, addr)
    }
}

extension IPAddress {
    /// The address held by a libnl `nl_addr`, when it is IPv4 or IPv6.
    init?(libnl addr: OpaquePointer) {
        guard let raw = nl_addr_get_binary_addr(addr) else { return nil }
        let length = Int(nl_addr_get_len(addr))
        let family = Int32(nl_addr_get_family(addr))
        guard (family == AF_INET && length == 4) || (family == AF_INET6 && length == 16) else { return nil }
        self.init(bytes: UnsafeRawBufferPointer(start: raw, count: length))
    }
}
