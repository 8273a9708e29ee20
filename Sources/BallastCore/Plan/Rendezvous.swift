// Choosing the announcer of an address without any coordination: every node
// ranks the eligible nodes by a hash of (node, address) and the highest wins
// (rendezvous, or highest-random-weight, hashing). Each node computes the same
// answer from the same inputs, and when a node leaves, only the addresses it
// announced move, spread evenly over the others.
//
// The hash must be identical on every node and across restarts and Swift
// versions, which rules out Swift's Hasher (seeded randomly per process).
// FNV-1a is simple and stable but mixes its last bytes poorly, so the result
// goes through MurmurHash3's 64-bit finaliser.

public enum Rendezvous {
    /// The weight of `node` for `address`. Stable: part of the wire contract between nodes.
    public static func score(node: String, address: IPAddress) -> UInt64 {
        var hash = StableHash()
        hash.combine(node: node)
        return hash.finalized(with: address)
    }

    /// The node among `nodes` with the highest score (ties, which need a 64-bit
    /// collision, go to the smaller name); nil when `nodes` is empty.
    public static func owner(of address: IPAddress, among nodes: some Sequence<String>) -> String? {
        NodeTable.announcer(of: address, among: nodes.map { name in
            var prefix = StableHash()
            prefix.combine(node: name)
            return NodeTable.Candidate(name: name, hashPrefix: prefix)
        })
    }
}

/// FNV-1a 64 with a MurmurHash3 fmix64 finaliser.
struct StableHash: Sendable, Hashable {
    private(set) var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(_ byte: UInt8) {
        state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
    }

    mutating func combine(_ word: UInt64, bytes: Int) {
        for i in stride(from: bytes - 1, through: 0, by: -1) { combine(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) }
    }

    /// The node name, then a 0 byte that no name contains, so ("ab", x) and ("a", "b"…) never meet.
    mutating func combine(node: String) {
        for byte in node.utf8 { combine(byte) }
        combine(0)
    }

    /// Adds the address in network byte order and finalises, leaving `self` reusable as a prefix.
    func finalized(with address: IPAddress) -> UInt64 {
        var copy = self
        switch address {
        case .v4(let a):
            copy.combine(UInt64(a.value), bytes: 4)
        case .v6(let a):
            copy.combine(a.high, bytes: 8)
            copy.combine(a.low, bytes: 8)
        }
        return Self.fmix64(copy.state)
    }

    static func fmix64(_ value: UInt64) -> UInt64 {
        var k = value
        k ^= k >> 33
        k &*= 0xff51_afd7_ed55_8ccd
        k ^= k >> 33
        k &*= 0xc4ce_b9fe_1a85_ec53
        k ^= k >> 33
        return k
    }
}
