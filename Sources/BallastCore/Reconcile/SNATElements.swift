// The SNAT table's elements in memory. The daemon remembers the table it
// last wrote or read (10,000 marks and 90,000 masquerade pairs at 10,000
// Services, issue 5): as hash sets those took 2.5 MiB (16-byte buckets, at
// most 3/4 full); as sorted arrays of one 8-byte word per IPv4 element they
// take 0.8 MiB. Sorted arrays also make the table's diff a linear merge
// instead of four set subtractions over 100,000 elements, and building the
// desired table from the plan's rules (sorted by VIP) mostly a copy.

/// An element of Ballast's SNAT table that packs into one 64-bit word when
/// its addresses are IPv4.
public protocol SNATElement: Sendable, Hashable, Comparable {
    /// The element as one word, or nil when it holds an IPv6 address. Packed
    /// words order as their elements do (`<`), so a sorted array of words is
    /// the elements in order.
    var packed: UInt64? { get }
    /// The element whose `packed` is `word`.
    init(packed word: UInt64)
}

/// Elements of an SNAT table, sorted, each once: those that pack into a word
/// (IPv4) as a sorted array of words, the others (IPv6) sorted beside them.
///
/// A collection of the packed elements in order, then the others in order.
/// That is the elements' own order, except for a masquerade pair that mixes
/// families (no table Ballast writes holds one: `SNATTable(rules:)` drops
/// them): it comes after every IPv4 pair.
public struct SNATElements<Element: SNATElement>: Sendable, Hashable, RandomAccessCollection,
                                                  ExpressibleByArrayLiteral, CustomStringConvertible {
    /// Packed elements, strictly increasing.
    private var words: [UInt64]
    /// The other elements, strictly increasing.
    private var others: [Element]

    public init() {
        words = []
        others = []
    }

    /// `elements` in any order, repeats included.
    public init(_ elements: some Collection<Element>) {
        // Exact sizes: a table read back is kept until the next full read.
        let packable = elements.reduce(0) { $1.packed == nil ? $0 : $0 + 1 }
        var words: [UInt64] = []
        var others: [Element] = []
        words.reserveCapacity(packable)
        others.reserveCapacity(elements.count - packable)
        for element in elements {
            if let word = element.packed { words.append(word) } else { others.append(element) }
        }
        self.init(words: words, others: others)
    }

    public init(arrayLiteral elements: Element...) {
        self.init(elements)
    }

    /// From `words` (packed elements) and `others` (elements that do not
    /// pack), each in any order, repeats included. Arrays already strictly
    /// increasing are kept as they are: the desired table from sorted rules.
    init(words: [UInt64], others: [Element]) {
        self.words = words.sortedUnique()
        self.others = others.sortedUnique()
    }

    private init(sortedWords words: [UInt64], sortedOthers others: [Element]) {
        self.words = words
        self.others = others
    }

    // MARK: Collection

    public var startIndex: Int { 0 }
    public var endIndex: Int { words.count + others.count }
    public var count: Int { words.count + others.count }
    public var isEmpty: Bool { words.isEmpty && others.isEmpty }

    public subscript(position: Int) -> Element {
        position < words.count ? Element(packed: words[position]) : others[position - words.count]
    }

    public var description: String { "[" + map { "\($0)" }.joined(separator: ", ") + "]" }

    /// The packed elements as they are stored, strictly increasing: for
    /// encoders that go through 100,000 of them (the table's digest) without
    /// unpacking each.
    package var packedWords: [UInt64] { words }
    /// The elements that do not pack, strictly increasing.
    package var unpacked: [Element] { others }

    // MARK: Set algebra, by merging sorted arrays

    /// Binary search: O(log n), where a Sequence's `contains` would walk them all.
    public func contains(_ element: Element) -> Bool {
        if let word = element.packed { return words.sortedContains(word) }
        return others.sortedContains(element)
    }

    /// Inserts `element` where it sorts; false when it was there already.
    @discardableResult
    public mutating func insert(_ element: Element) -> Bool {
        if let word = element.packed { return words.sortedInsert(word) }
        return others.sortedInsert(element)
    }

    public func isSubset(of other: Self) -> Bool {
        words.isSortedSubset(of: other.words) && others.isSortedSubset(of: other.others)
    }

    public func subtracting(_ other: Self) -> Self { removing(other, inserting: []) }

    public func union(_ other: Self) -> Self { removing([], inserting: other) }

    /// `subtracting(removed).union(inserted)`, in one pass and one new array.
    public func removing(_ removed: Self, inserting inserted: Self) -> Self {
        Self(sortedWords: words.sortedReplacing(removing: removed.words, inserting: inserted.words),
             sortedOthers: others.sortedReplacing(removing: removed.others, inserting: inserted.others))
    }

    /// What turns `old` into `new`: the elements only `new` holds and those
    /// only `old` holds, in one pass over both.
    public static func difference(from old: Self, to new: Self) -> (added: Self, removed: Self) {
        let words = new.words.sortedDifference(old.words)
        let others = new.others.sortedDifference(old.others)
        return (Self(sortedWords: words.onlyInSelf, sortedOthers: others.onlyInSelf),
                Self(sortedWords: words.onlyInOther, sortedOthers: others.onlyInOther))
    }
}

// MARK: - Sorted arrays of distinct elements

extension Array where Element: Comparable {
    /// Sorted, each element once; an array that already is comes back as it
    /// is, without a copy. One with repeats removed is copied to its size,
    /// as it is kept: `append` and `reserveCapacity` leave slack.
    func sortedUnique() -> [Element] {
        guard !isStrictlyIncreasing else { return self }
        var sorted = self
        sorted.sort()
        var kept = 0
        for index in sorted.indices where kept == 0 || sorted[kept - 1] != sorted[index] {
            sorted[kept] = sorted[index]
            kept += 1
        }
        return kept == sorted.count ? sorted : Array(sorted[..<kept])
    }

    var isStrictlyIncreasing: Bool {
        guard count > 1 else { return true }
        for index in 1..<count where !(self[index - 1] < self[index]) { return false }
        return true
    }

    func sortedContains(_ element: Element) -> Bool {
        let index = sortedIndex(of: element)
        return index < count && self[index] == element
    }

    /// The first index whose element is not below `element` (binary search).
    func sortedIndex(of element: Element) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            if self[middle] < element { low = middle + 1 } else { high = middle }
        }
        return low
    }

    mutating func sortedInsert(_ element: Element) -> Bool {
        let index = sortedIndex(of: element)
        guard index == count || self[index] != element else { return false }
        insert(element, at: index)
        return true
    }

    func isSortedSubset(of other: [Element]) -> Bool {
        guard count <= other.count else { return false }
        // A change's few elements against a whole table: a search each, not a walk of the table.
        if count < other.count / 64 { return allSatisfy(other.sortedContains) }
        var j = 0
        for element in self {
            while j < other.count && other[j] < element { j += 1 }
            guard j < other.count && other[j] == element else { return false }
            j += 1
        }
        return true
    }

    /// `self` without the elements of `removed` and with those of `inserted`
    /// (an element in both ends up inserted).
    func sortedReplacing(removing removed: [Element], inserting inserted: [Element]) -> [Element] {
        if removed.isEmpty && inserted.isEmpty { return self }
        if isEmpty { return inserted }
        var result: [Element] = []
        result.reserveCapacity(count + inserted.count)
        var r = 0
        var n = 0
        for element in self {
            while r < removed.count && removed[r] < element { r += 1 }
            while n < inserted.count && inserted[n] < element {
                result.append(inserted[n])
                n += 1
            }
            let isInserted = n < inserted.count && inserted[n] == element
            if isInserted { n += 1 }
            if r < removed.count && removed[r] == element {
                r += 1
                if !isInserted { continue }
            }
            result.append(element)
        }
        result.append(contentsOf: inserted[n...])
        return result
    }

    /// The elements only `self` holds and those only `other` holds.
    func sortedDifference(_ other: [Element]) -> (onlyInSelf: [Element], onlyInOther: [Element]) {
        if isEmpty || other.isEmpty { return (self, other) }
        var onlyInSelf: [Element] = []
        var onlyInOther: [Element] = []
        var i = 0
        var j = 0
        while i < count && j < other.count {
            if self[i] < other[j] {
                onlyInSelf.append(self[i])
                i += 1
            } else if other[j] < self[i] {
                onlyInOther.append(other[j])
                j += 1
            } else {
                i += 1
                j += 1
            }
        }
        onlyInSelf.append(contentsOf: self[i...])
        onlyInOther.append(contentsOf: other[j...])
        return (onlyInSelf, onlyInOther)
    }
}
