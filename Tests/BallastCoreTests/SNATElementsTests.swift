// The SNAT table keeps its elements as sorted arrays of packed words
// (SNATElements) and a rule its destinations as packed IPv4 words
// (SNATDestinations); these check that the packing and the merges behave as
// the Sets and arrays of `IPAddress` they replace: same members, same order,
// same set algebra, same table from the same rules.
import BallastCore
import BallastTestSupport
import Testing

@Suite struct SNATElementsTests {
    enum Families: String, CaseIterable, CustomTestStringConvertible {
        case ipv4, ipv6, mixed

        var testDescription: String { rawValue }
    }

    /// Few distinct values, so that repeats and equal fields are common;
    /// extreme words test the packing's ends.
    static func address(_ families: Families, _ rng: inout SplitMix64) -> IPAddress {
        let v4 = families == .ipv4 || (families == .mixed && rng.chance(0.7))
        if v4 {
            let words: [UInt32] = [0, 1, 0x0a00_0001, 0x0a00_0002, 0x0a00_0003, 0xc000_0201, 0x7fff_ffff, 0x8000_0000, .max]
            return .v4(IPv4Address(rng.pick(words)))
        }
        let halves: [UInt64] = [0, 1, 0x2001_0db8_0000_0000, .max]
        return .v6(IPv6Address(high: rng.pick(halves), low: rng.pick(halves)))
    }

    static func mark(_ families: Families, _ rng: inout SplitMix64) -> SNATMatch {
        SNATMatch(address: address(families, &rng), protocol: rng.pick(IPVSProtocol.allCases),
                  port: rng.pick([0, 1, 53, 80, 443, .max]))
    }

    /// A mixed table holds pairs of two families too, which sort among the IPv4 pairs.
    static func pair(_ families: Families, _ rng: inout SplitMix64) -> SNATPair {
        SNATPair(address: address(families, &rng), destination: address(families, &rng))
    }

    /// The collection's order: packed (all-IPv4) elements first, then the others, each sorted.
    static func expectedOrder<E: SNATElement>(_ elements: Set<E>) -> [E] {
        elements.filter { $0.packed != nil }.sorted() + elements.filter { $0.packed == nil }.sorted()
    }

    // MARK: - Packing

    @Test(arguments: Families.allCases)
    func packedWordsOrderAsTheirElements(families: Families) {
        var rng = SplitMix64(seed: 7)
        let marks = (0..<300).map { _ in Self.mark(families, &rng) }
        let pairs = (0..<300).map { _ in Self.pair(families, &rng) }
        for (a, b) in zip(marks, marks.reversed()) {
            #expect((a.packed != nil) == (a.address.family == .ipv4))
            guard let x = a.packed, let y = b.packed else { continue }
            #expect(SNATMatch(packed: x) == a)
            #expect((x < y) == (a < b) && (x == y) == (a == b), "\(a) vs \(b)")
        }
        for (a, b) in zip(pairs, pairs.reversed()) {
            #expect((a.packed != nil) == (a.address.family == .ipv4 && a.destination.family == .ipv4))
            guard let x = a.packed, let y = b.packed else { continue }
            #expect(SNATPair(packed: x) == a)
            #expect((x < y) == (a < b) && (x == y) == (a == b), "\(a) vs \(b)")
        }
    }

    @Test func everyProtocolPacks() {
        for proto in IPVSProtocol.allCases {
            let mark = SNATMatch(address: IPAddress("192.0.2.10")!, protocol: proto, port: 8080)
            #expect(mark.packed.map(SNATMatch.init(packed:)) == mark)
        }
    }

    // MARK: - Against a Set

    /// Every operation, on `a` and `b` drawn from the same small value space, against Set.
    static func checkAlgebra<E: SNATElement>(_ a: [E], _ b: [E], _ label: String) {
        let (setA, setB) = (Set(a), Set(b))
        let (x, y) = (SNATElements(a), SNATElements(b))
        #expect(Array(x) == expectedOrder(setA), "\(label): order")
        #expect(x.count == setA.count && x.isEmpty == setA.isEmpty, "\(label): count")
        #expect(x == SNATElements(a.reversed()), "\(label): built in another order")
        #expect(x.hashValue == SNATElements(a.reversed()).hashValue, "\(label): hash")
        #expect((x == y) == (setA == setB), "\(label): equality")
        for element in b { #expect(x.contains(element) == setA.contains(element), "\(label): contains \(element)") }
        #expect(x.isSubset(of: y) == setA.isSubset(of: setB), "\(label): subset")
        #expect(x.isSubset(of: x.union(y)) && x.subtracting(y).isSubset(of: x), "\(label): subset of union")
        #expect(Array(x.subtracting(y)) == expectedOrder(setA.subtracting(setB)), "\(label): subtracting")
        #expect(Array(x.union(y)) == expectedOrder(setA.union(setB)), "\(label): union")
        let replaced = x.removing(y, inserting: SNATElements(a.prefix(a.count / 3)))
        #expect(Array(replaced) == expectedOrder(setA.subtracting(setB).union(a.prefix(a.count / 3))), "\(label): removing")
        let difference = SNATElements.difference(from: x, to: y)
        #expect(Array(difference.added) == expectedOrder(setB.subtracting(setA)), "\(label): added")
        #expect(Array(difference.removed) == expectedOrder(setA.subtracting(setB)), "\(label): removed")
        #expect(x.removing(difference.removed, inserting: difference.added) == y, "\(label): difference applied")
        var inserted = x
        var reference = setA
        for element in b {
            #expect(inserted.insert(element) == reference.insert(element).inserted, "\(label): insert \(element)")
        }
        #expect(Array(inserted) == expectedOrder(reference), "\(label): insert")
    }

    @Test(arguments: Families.allCases, [0, 1, 5, 60, 400])
    func behavesAsASet(families: Families, count: Int) {
        for seed: UInt64 in 1...4 {
            var rng = SplitMix64(seed: seed &* 31 &+ UInt64(count))
            let marks = (0..<count).map { _ in Self.mark(families, &rng) }
            let otherMarks = (0..<Int.random(in: 0...count, using: &rng)).map { _ in Self.mark(families, &rng) }
            Self.checkAlgebra(marks, otherMarks, "marks, \(families), seed \(seed)")
            let pairs = (0..<count).map { _ in Self.pair(families, &rng) }
            let otherPairs = (0..<Int.random(in: 0...count, using: &rng)).map { _ in Self.pair(families, &rng) }
            Self.checkAlgebra(pairs, otherPairs, "pairs, \(families), seed \(seed)")
        }
    }

    @Test func emptyOnEitherSide() {
        let some: SNATElements<SNATPair> = [SNATPair(address: IPAddress("192.0.2.10")!, destination: IPAddress("10.0.0.5")!),
                                            SNATPair(address: IPAddress("2001:db8::10")!, destination: IPAddress("2001:db8::5")!)]
        let none = SNATElements<SNATPair>()
        #expect(none.isEmpty && none.count == 0 && Array(none) == [] && none == [])
        #expect(some.subtracting(none) == some && none.subtracting(some) == none)
        #expect(some.union(none) == some && none.union(some) == some)
        #expect(none.isSubset(of: some) && none.isSubset(of: none) && !some.isSubset(of: none))
        #expect(SNATElements.difference(from: none, to: some) == (added: some, removed: none))
        #expect(SNATElements.difference(from: some, to: none) == (added: none, removed: some))
        #expect(some.removing(none, inserting: none) == some && none.removing(some, inserting: some) == some)
        #expect(!none.contains(some[0]))
    }

    /// The size of the remembered table at 10,000 Services, with random
    /// elements in a wide space (few repeats), against Set.
    @Test func largeRandomTablesAgreeWithSets() {
        var rng = SplitMix64(seed: 0xba11a57)
        func pair() -> SNATPair {
            let v6 = rng.chance(0.05)
            func address() -> IPAddress {
                v6 ? .v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: rng.next() % 5_000))
                    : .v4(IPv4Address(0x0a00_0000 | UInt32(truncatingIfNeeded: rng.next() % 200_000)))
            }
            return SNATPair(address: address(), destination: address())
        }
        let old = (0..<100_000).map { _ in pair() }
        var new = Array(old.shuffled(using: &rng).prefix(95_000))
        new += (0..<5_000).map { _ in pair() }
        let (x, y) = (SNATElements(old), SNATElements(new))
        let (setX, setY) = (Set(old), Set(new))
        #expect(Array(x) == Self.expectedOrder(setX))
        let difference = SNATElements.difference(from: x, to: y)
        #expect(Set(difference.added) == setY.subtracting(setX) && Set(difference.removed) == setX.subtracting(setY))
        #expect(x.removing(difference.removed, inserting: difference.added) == y)
        #expect(Set(x.union(y)) == setX.union(setY) && Set(x.subtracting(y)) == setX.subtracting(setY))
        #expect(difference.removed.isSubset(of: x) && difference.added.isSubset(of: y) && !y.isSubset(of: x))
        // A few elements against the whole table (searched, not merged).
        let few = SNATElements(old.prefix(10))
        #expect(few.isSubset(of: x) && few.union(difference.added).isSubset(of: x) == difference.added.isEmpty)
        #expect(!few.union(SNATElements(new.suffix(1))).isSubset(of: x) || x.contains(new.last!))
    }

    // MARK: - Rule destinations

    @Test(arguments: Families.allCases, [0, 1, 9, 40])
    func destinationsReadAsASortedArray(families: Families, count: Int) {
        var rng = SplitMix64(seed: UInt64(count) + 11)
        let addresses = (0..<count).map { _ in Self.address(families, &rng) }
        let destinations = SNATDestinations(addresses)
        // Repeats are kept, as the sorted array kept them.
        #expect(Array(destinations) == addresses.sorted())
        #expect(destinations.count == addresses.count && destinations.isEmpty == addresses.isEmpty)
        #expect(destinations == SNATDestinations(addresses.reversed()))
        #expect(destinations.description == "[" + addresses.sorted().map(\.description).joined(separator: ", ") + "]")
        let rule = SNATRule(address: IPAddress("192.0.2.10")!, port: 80, protocol: .tcp, destinations: addresses)
        #expect(rule.destinations == destinations)
    }

    /// Two arrays, the IPv6 one empty (allocating nothing) in an IPv4 cluster.
    @Test func destinationsAreTwoWords() {
        #expect(MemoryLayout<SNATDestinations>.stride == 16)
    }

    // MARK: - The table from rules

    /// The table as it was built before packing: Sets filled rule by rule.
    static func referenceTable(_ rules: [SNATRule]) -> (marks: Set<SNATMatch>, pairs: Set<SNATPair>) {
        var marks: Set<SNATMatch> = []
        var pairs: Set<SNATPair> = []
        for rule in rules {
            var any = false
            for destination in rule.destinations where destination.family == rule.address.family {
                pairs.insert(SNATPair(address: rule.address, destination: destination))
                any = true
            }
            if any { marks.insert(SNATMatch(address: rule.address, protocol: rule.protocol, port: rule.port)) }
        }
        return (marks, pairs)
    }

    /// Random rules: VIPs with several ports (their pairs repeat), either
    /// family, destinations of both families, rules without destinations.
    static func rules(_ families: Families, count: Int, _ rng: inout SplitMix64) -> [SNATRule] {
        (0..<count).map { _ in
            let destinations = (0..<Int.random(in: 0...5, using: &rng)).map { _ in address(.mixed, &rng) }
            return SNATRule(address: address(families, &rng), port: rng.pick([53, 80, 443]),
                            protocol: rng.pick(IPVSProtocol.allCases), destinations: destinations)
        }
    }

    @Test(arguments: Families.allCases, [0, 1, 30, 500])
    func aTableFromRulesHoldsWhatSetsHeld(families: Families, count: Int) {
        var rng = SplitMix64(seed: UInt64(count) &* 17 &+ 3)
        let rules = Self.rules(families, count: count, &rng)
        let reference = Self.referenceTable(rules)
        for order in [rules, rules.sorted(), rules.reversed()] {
            let table = SNATTable(rules: order)
            #expect(Array(table.marks) == reference.marks.sorted())
            #expect(Array(table.masquerades) == reference.pairs.sorted())
        }
    }

    /// The table from 10,000 sorted rules (the plan's order) and its diff
    /// after some rules changed, against Sets.
    @Test func aLargeTableAndItsChangeAgreeWithSets() {
        func rules(moving: Bool) -> [SNATRule] {
            (0..<10_000).map { i in
                let vip = IPAddress.v4(IPv4Address(0x6440_0000 + UInt32(i / 2)))
                let destinations = (0..<9).map { j in
                    IPAddress.v4(IPv4Address(0x0a80_0000 + UInt32(i * 16 + (moving && i % 97 == 0 ? 15 - j : j))))
                }
                return SNATRule(address: vip, port: UInt16(80 + i % 2), protocol: .tcp, destinations: destinations)
            }.sorted()
        }
        let (before, after) = (rules(moving: false), rules(moving: true))
        let old = SNATTable(rules: before)
        let new = SNATTable(rules: after)
        let (referenceOld, referenceNew) = (Self.referenceTable(before), Self.referenceTable(after))
        #expect(Set(old.marks) == referenceOld.marks && Set(old.masquerades) == referenceOld.pairs)
        let change = SNATTableChange(from: old, to: new)
        #expect(Set(change.addMasquerades) == referenceNew.pairs.subtracting(referenceOld.pairs))
        #expect(Set(change.deleteMasquerades) == referenceOld.pairs.subtracting(referenceNew.pairs))
        #expect(change.addMarks.isEmpty && change.deleteMarks.isEmpty && !change.addMasquerades.isEmpty)
        #expect(old.applying(change) == new)
        #expect(SNATTableChange(from: new, to: new).isEmpty)
    }

    @Test(arguments: Families.allCases)
    func aChangeTurnsOneTableIntoTheOther(families: Families) {
        for seed: UInt64 in 1...8 {
            var rng = SplitMix64(seed: seed)
            let old = SNATTable(rules: Self.rules(families, count: 40, &rng))
            let new = SNATTable(rules: Self.rules(families, count: 40, &rng))
            let change = SNATTableChange(from: old, to: new)
            #expect(old.applying(change) == new, "seed \(seed)")
            #expect(Set(change.addMarks) == Set(new.marks).subtracting(old.marks), "seed \(seed)")
            #expect(Set(change.deleteMarks) == Set(old.marks).subtracting(new.marks), "seed \(seed)")
            #expect(Set(change.addMasquerades) == Set(new.masquerades).subtracting(old.masquerades), "seed \(seed)")
            #expect(Set(change.deleteMasquerades) == Set(old.masquerades).subtracting(new.masquerades), "seed \(seed)")
        }
    }
}
