import BallastCore

/// Unsolicited frames that tell the segment "this address is at this MAC",
/// sent when a node takes an address over and, optionally, periodically.
public enum Announcement {
    /// Gratuitous ARP in both forms, request then reply, broadcast. Hosts
    /// differ in which form updates their cache (RFC 5227 §3 recommends the
    /// request; some stacks and switches only learn from replies), so MetalLB
    /// and keepalived send both too.
    public static func gratuitousARP(for address: IPv4Address, mac: MACAddress) -> [[UInt8]] {
        // RFC 5227 §3: the target hardware address of the request form is ignored
        // and SHOULD be zero; the reply form names the sender, as `arping -A` does.
        let request = ARPPacket(operation: .request, senderMAC: mac, senderIP: address,
                                targetMAC: .zero, targetIP: address)
        let reply = ARPPacket(operation: .reply, senderMAC: mac, senderIP: address,
                              targetMAC: mac, targetIP: address)
        return [request.frame(from: mac, to: .broadcast), reply.frame(from: mac, to: .broadcast)]
    }

    /// Unsolicited neighbour advertisement to all-nodes (RFC 4861 §7.2.6): S
    /// clear (nobody asked), O set (overwrite the previous owner's entry).
    public static func unsolicitedNA(for address: IPv6Address, mac: MACAddress) -> [UInt8] {
        let na = NeighborAdvertisement(solicited: false, override: true, target: address,
                                       options: [.targetLinkLayerAddress(mac)])
        return NDPMessage.advertisement(na).frame(from: mac, to: .ipv6AllNodes, source: address,
                                                  destination: .allNodes)
    }

    /// The frames of one announcement round for `address`.
    public static func frames(for address: IPAddress, mac: MACAddress) -> [[UInt8]] {
        switch address {
        case .v4(let a): gratuitousARP(for: a, mac: mac)
        case .v6(let a): [unsolicitedNA(for: a, mac: mac)]
        }
    }
}
