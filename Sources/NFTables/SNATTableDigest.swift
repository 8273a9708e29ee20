import BallastCore

/// A 128-bit digest of an SNAT table's elements, which Ballast writes into the
/// table's `digest` set in the same nftables transaction as the elements
/// themselves. At start the daemon reads the table without its elements (a
/// terse listing plus the one-element `digest` set: milliseconds instead of
/// seconds and ~100 MiB for 100,000 elements) and trusts it when this digest
/// equals the digest of what it wants the table to hold (docs/dataplane.md).
///
/// The digest is the sum, modulo 2⁶⁴ in each of two lanes, of a hash of each
/// element (a multiset hash): independent of order, and a change of elements
/// moves it by the hashes of the elements added and deleted, so an update
/// computes the new digest in O(change) instead of hashing 100,000 elements.
/// Each lane hashes the element's fields with a seed of its own through the
/// splitmix64 finalizer (a bijection with full avalanche). Nothing here is a
/// secret or a defence against an adversary — whoever can write the digest can
/// write the elements too; it tells "the table Ballast last wrote" apart from
/// "another table", where an accidental match has a probability near 2⁻¹²⁸.
/// Stable across processes and versions: changing the hash changes
/// `version`, and a table written under another version then reads as not
/// Ballast's and is replaced once.
struct SNATTableDigest: Hashable, CustomStringConvertible {
    /// Mixed into both seeds: bump it when the element encoding changes.
    static let version: UInt64 = 1
    private static let seeds: (UInt64, UInt64) = (0x6261_6c6c_6173_7401 &+ version, 0x736e_6174_6469_6701 &+ version)

    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// The digest of `table`'s elements.
    init(_ table: SNATTable) {
        self.init(high: 0, low: 0)
        add(table.marks, table.masquerades)
    }

    /// The digest after `change`, when `change` was applied to a table whose
    /// digest is `self` (its deletes present and its adds absent, which the
    /// element diff guarantees).
    func applying(_ change: SNATTableChange) -> SNATTableDigest {
        var digest = self
        digest.add(change.deleteMarks, change.deleteMasquerades, subtracting: true)
        digest.add(change.addMarks, change.addMasquerades)
        return digest
    }

    /// Adds (or subtracts) the hashes of the elements; IPv4 ones straight
    /// from their packed words. A pair of two families is never written, so
    /// it is not in the digest either.
    private mutating func add(_ marks: SNATElements<SNATMatch>, _ pairs: SNATElements<SNATPair>,
                              subtracting: Bool = false) {
        func apply(_ hash: (UInt64, UInt64)) { if subtracting { subtract(hash) } else { add(hash) } }
        for word in marks.packedWords { apply(Self.hash(markWord: word)) }
        for mark in marks.unpacked { apply(Self.hash(mark)) }
        for word in pairs.packedWords { apply(Self.hash(pairWord: word)) }
        for pair in pairs.unpacked where pair.address.family == pair.destination.family { apply(Self.hash(pair)) }
    }

    /// The four 32-bit words of the `digest` set's one element
    /// (`type mark . mark . mark . mark`), most significant first.
    var words: [UInt32] {
        [UInt32(truncatingIfNeeded: high >> 32), UInt32(truncatingIfNeeded: high),
         UInt32(truncatingIfNeeded: low >> 32), UInt32(truncatingIfNeeded: low)]
    }

    init?(words: [UInt32]) {
        guard words.count == 4 else { return nil }
        self.init(high: UInt64(words[0]) << 32 | UInt64(words[1]), low: UInt64(words[2]) << 32 | UInt64(words[3]))
    }

    /// The element in nft syntax.
    var element: String { words.map { SNATTableText.hex($0) }.joined(separator: " . ") }

    var description: String { element }

    private mutating func add(_ hash: (UInt64, UInt64)) {
        high &+= hash.0
        low &+= hash.1
    }

    private mutating func subtract(_ hash: (UInt64, UInt64)) {
        high &-= hash.0
        low &-= hash.1
    }

    // MARK: - Element hashes

    /// Tags keep a mark and a pair whose fields happen to be equal apart.
    private static func hash(_ mark: SNATMatch) -> (UInt64, UInt64) {
        var chain = Chain()
        chain.feed(1)
        chain.feed(mark.address)
        chain.feed(UInt64(mark.protocol.number) << 16 | UInt64(mark.port))
        return (chain.a, chain.b)
    }

    /// `hash(SNATMatch(packed: word))`: the same fields, read from the word
    /// (VIP in the high 32 bits, then port, then protocol number).
    private static func hash(markWord word: UInt64) -> (UInt64, UInt64) {
        var chain = Chain()
        chain.feed(1)
        chain.feed(ipv4: word >> 32)
        chain.feed((word & 0xffff) << 16 | (word >> 16 & 0xffff))
        return (chain.a, chain.b)
    }

    private static func hash(_ pair: SNATPair) -> (UInt64, UInt64) {
        var chain = Chain()
        chain.feed(2)
        chain.feed(pair.address)
        chain.feed(pair.destination)
        return (chain.a, chain.b)
    }

    /// `hash(SNATPair(packed: word))`: VIP in the high 32 bits, destination in the low.
    private static func hash(pairWord word: UInt64) -> (UInt64, UInt64) {
        var chain = Chain()
        chain.feed(2)
        chain.feed(ipv4: word >> 32)
        chain.feed(ipv4: word & 0xffff_ffff)
        return (chain.a, chain.b)
    }

    /// Both lanes fed the same fields, each from its own seed.
    private struct Chain {
        var a = mix(seeds.0)
        var b = mix(seeds.1)

        mutating func feed(_ field: UInt64) {
            a = mix(a ^ field)
            b = mix(b ^ field)
        }

        /// An IPv4 address by its 32-bit value.
        mutating func feed(ipv4 value: UInt64) {
            feed(4 << 32 | value)
        }

        mutating func feed(_ address: IPAddress) {
            switch address {
            case .v4(let v4):
                feed(ipv4: UInt64(v4.value))
            case .v6(let v6):
                feed(6)
                feed(v6.high)
                feed(v6.low)
            }
        }
    }

    /// splitmix64's finalizer (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014).
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
