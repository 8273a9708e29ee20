// `Announcers` replaced a `[IPAddress: String]` per ServicePlan
// (DesiredState.swift); it must read, compare and hash as that dictionary did.
import BallastCore
import BallastTestSupport
import Testing

@Suite struct AnnouncersTests {
    private static let addresses: [IPAddress] = ["192.0.2.1", "192.0.2.2", "198.51.100.7", "2001:db8::1", "2001:db8::2"]
        .map { IPAddress($0)! }
    private static let nodes = ["node-a", "node-b", "node-c"]

    /// Random sets and removals, applied to both the dictionary and `Announcers`.
    private static func edits(seed: UInt64, count: Int) -> [(IPAddress, String?)] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in
            (addresses.randomElement(using: &rng)!, rng.chance(0.3) ? nil : nodes.randomElement(using: &rng)!)
        }
    }

    @Test(arguments: [1, 2, 3, 0x5eed] as [UInt64])
    func behavesAsADictionary(seed: UInt64) {
        var dictionary: [IPAddress: String] = [:]
        var announcers: Announcers = [:]
        var seen: [(Announcers, [IPAddress: String])] = []
        for (address, node) in Self.edits(seed: seed, count: 200) {
            dictionary[address] = node
            announcers[address] = node
            for address in Self.addresses { #expect(announcers[address] == dictionary[address], "seed \(seed)") }
            #expect(announcers.count == dictionary.count && announcers.isEmpty == dictionary.isEmpty)
            #expect(announcers.nodes.sorted() == dictionary.values.sorted())
            seen.append((announcers, dictionary))
        }
        for (a, da) in seen.suffix(40) {
            for (b, db) in seen.suffix(40) {
                #expect((a == b) == (da == db), "seed \(seed)")
                if a == b { #expect(a.hashValue == b.hashValue) }
            }
        }
    }

    @Test func literalOrderDoesNotMatter() {
        let (v4, v6) = (Self.addresses[0], Self.addresses[3])
        let forward: Announcers = [v4: "node-a", v6: "node-b"]
        let backward: Announcers = [v6: "node-b", v4: "node-a"]
        #expect(forward == backward)
        #expect(forward.nodes == ["node-a", "node-b"])
    }

    /// The Service cache holds every Service: its one-byte fields are packed at the end.
    @Test func serviceIsNoLargerThan176Bytes() {
        #expect(MemoryLayout<Service>.stride <= 176)
    }
}
