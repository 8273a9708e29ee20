// SNATPair packs two IPv4 addresses into one word and boxes anything else
// (SNATReconcile.swift); these check that the packing is invisible: the pair
// reads back, compares, hashes and sorts exactly as two plain `IPAddress`
// fields did.
import BallastCore
import BallastTestSupport
import Testing

@Suite struct SNATPairTests {
    /// The layout the pair had before packing: equality, hash and order of the two fields.
    private struct Plain: Hashable, Comparable {
        var address: IPAddress
        var destination: IPAddress

        static func < (a: Self, b: Self) -> Bool { (a.address, a.destination) < (b.address, b.destination) }
    }

    /// Few distinct values per family, so that equal pairs and pairs equal in one field are common;
    /// extreme words test the packing's halves.
    private static func address(using rng: inout SplitMix64) -> IPAddress {
        if rng.chance(0.7) {
            let words: [UInt32] = [0, 1, 0x0a00_0001, 0x0a00_0002, 0xc000_0201, 0x7fff_ffff, 0x8000_0000, .max]
            return .v4(IPv4Address(words.randomElement(using: &rng)!))
        }
        let halves: [UInt64] = [0, 1, 0x2001_0db8_0000_0000, .max]
        return .v6(IPv6Address(high: halves.randomElement(using: &rng)!, low: halves.randomElement(using: &rng)!))
    }

    private static func plains(seed: UInt64, count: Int) -> [Plain] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Plain(address: address(using: &rng), destination: address(using: &rng)) }
    }

    @Test(arguments: [1, 2, 3, 0xba11a57] as [UInt64])
    func behavesAsTwoAddresses(seed: UInt64) {
        let plains = Self.plains(seed: seed, count: 400)
        let pairs = plains.map { SNATPair(address: $0.address, destination: $0.destination) }
        for (plain, pair) in zip(plains, pairs) {
            #expect(pair.address == plain.address && pair.destination == plain.destination, "seed \(seed): \(pair)")
        }
        for i in plains.indices.prefix(100) {
            for j in plains.indices {
                #expect((pairs[i] == pairs[j]) == (plains[i] == plains[j]), "seed \(seed): \(pairs[i]) vs \(pairs[j])")
                #expect((pairs[i] < pairs[j]) == (plains[i] < plains[j]), "seed \(seed): \(pairs[i]) < \(pairs[j])")
                if pairs[i] == pairs[j] { #expect(pairs[i].hashValue == pairs[j].hashValue) }
            }
        }
        #expect(Set(pairs).count == Set(plains).count)
        #expect(pairs.sorted().map { Plain(address: $0.address, destination: $0.destination) } == plains.sorted())
    }

    @Test func settingAFieldRepacks() {
        let v4 = IPAddress("192.0.2.1")!, v6 = IPAddress("2001:db8::1")!, other = IPAddress("10.0.0.9")!
        var pair = SNATPair(address: v4, destination: v6)
        pair.destination = other
        #expect(pair == SNATPair(address: v4, destination: other))
        #expect(pair.hashValue == SNATPair(address: v4, destination: other).hashValue)
        pair.address = v6
        #expect(pair.address == v6 && pair.destination == other)
    }

    /// What the packing is for: 90,000 pairs in the remembered table at 10,000 Services.
    @Test func isSixteenBytes() {
        #expect(MemoryLayout<SNATPair>.stride == 16)
    }
}
