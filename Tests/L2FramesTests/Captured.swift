// Frames captured on the wire, used as fixtures. Recorded with
//   tcpdump -i p0 -w l2.pcap 'arp or icmp6'; tcpdump -r l2.pcap -n -e -xx
// in a peer namespace joined by a veth to a "node" namespace (node eth0
// 02:00:00:00:00:01 with 198.51.100.1/24 and 2001:db8:1::1/64, peer p0
// 02:00:00:00:00:02 with 198.51.100.2/24 and 2001:db8:1::2/64), while the peer
// ran `arping -c 1 -I p0 198.51.100.1`, `arping -U`, `ndisc6 -1 2001:db8:1::1 p0`
// and added its IPv6 address (DAD, then an unsolicited NA: ndisc_notify=1).
// The answers are the Linux kernel's own.

import L2Frames

extension [UInt8] {
    init(hex: String) {
        let digits = hex.filter { !$0.isWhitespace }.map { UInt8(String($0), radix: 16)! }
        self = stride(from: 0, to: digits.count, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
    }
}

enum Captured {
    /// arping: "Request who-has 198.51.100.1 tell 198.51.100.2", padded to 58 bytes by arping.
    static let arpRequest = [UInt8](hex: """
        ffffffffffff 020000000002 0806 0001 0800 06 04 0001 020000000002 c6336402 000000000000 c6336401
        00000000000000000000000000000000
        """)
    /// Linux: "Reply 198.51.100.1 is-at 02:00:00:00:00:01" (42 bytes, veth does not pad).
    static let arpReplyFromKernel = [UInt8](hex: """
        020000000002 020000000001 0806 0001 0800 06 04 0002 020000000001 c6336401 020000000002 c6336402
        """)
    /// arping -U: "Request who-has 198.51.100.2 (ff:ff:ff:ff:ff:ff) tell 198.51.100.2".
    static let gratuitousRequestBroadcastTarget = [UInt8](hex: """
        ffffffffffff 020000000002 0806 0001 0800 06 04 0001 020000000002 c6336402 ffffffffffff c6336402
        00000000000000000000000000000000
        """)
    /// arping: "Request who-has 198.51.100.2 tell 198.51.100.2", target MAC zero (RFC 5227 §3).
    static let gratuitousRequest = [UInt8](hex: """
        ffffffffffff 020000000002 0806 0001 0800 06 04 0001 020000000002 c6336402 000000000000 c6336402
        00000000000000000000000000000000
        """)
    /// ndisc6: "fe80::ff:fe00:2 > ff02::1:ff00:1: neighbor solicitation, who has 2001:db8:1::1",
    /// with a source link-layer address option and a flow label.
    static let neighborSolicitation = [UInt8](hex: """
        3333ff000001 020000000002 86dd 6006bd7f 0020 3a ff fe80000000000000000000fffe000002
        ff0200000000000000000001ff000001 8700 4c5e 00000000 20010db8000100000000000000000001
        0101020000000002
        """)
    /// Linux: "2001:db8:1::1 > fe80::ff:fe00:2: neighbor advertisement, tgt is 2001:db8:1::1,
    /// Flags [solicited, override]" with a target link-layer address option.
    static let neighborAdvertisementFromKernel = [UInt8](hex: """
        020000000002 020000000001 86dd 60000000 0020 3a ff 20010db8000100000000000000000001
        fe80000000000000000000fffe000002 8800 baa9 60000000 20010db8000100000000000000000001
        0201020000000001
        """)
    /// Linux DAD: ":: > ff02::1:ff00:2: neighbor solicitation, who has 2001:db8:1::2", nonce option (14).
    static let duplicateAddressDetection = [UInt8](hex: """
        3333ff000002 020000000002 86dd 60000000 0020 3a ff 00000000000000000000000000000000
        ff0200000000000000000001ff000002 8700 7400 00000000 20010db8000100000000000000000002
        0e01956606e22e98
        """)
    /// Linux after DAD: "2001:db8:1::2 > ff02::1: neighbor advertisement, tgt is 2001:db8:1::2, Flags [override]".
    static let unsolicitedAdvertisement = [UInt8](hex: """
        333300000001 020000000002 86dd 60000000 0020 3a ff 20010db8000100000000000000000002
        ff020000000000000000000000000001 8800 f925 20000000 20010db8000100000000000000000002
        0201020000000002
        """)
    /// Linux: "fe80::ff:fe00:2 > ff02::2: router solicitation" (ICMPv6, not neighbour discovery).
    static let routerSolicitation = [UInt8](hex: """
        333300000002 020000000002 86dd 60000000 0010 3a ff fe80000000000000000000fffe000002
        ff020000000000000000000000000002 8500 7b2a 00000000 0101020000000002
        """)

    static let all: [[UInt8]] = [
        arpRequest, arpReplyFromKernel, gratuitousRequestBroadcastTarget, gratuitousRequest,
        neighborSolicitation, neighborAdvertisementFromKernel, duplicateAddressDetection,
        unsolicitedAdvertisement, routerSolicitation,
    ]

    static let nodeMAC = MACAddress("02:00:00:00:00:01")!
    static let peerMAC = MACAddress("02:00:00:00:00:02")!
}
