import BallastCore

/// The nodes of one parsed text, stored flat: one small record per node, the
/// children of every collection side by side in one array, and scalar texts
/// as ranges of the source (a String is made only when a decoder asks for
/// one). A directory of manifests has millions of nodes; as separate objects
/// their allocation and release was a large part of the time to load it.
final class YAMLTree: Sendable {
    enum Kind: UInt8, Sendable { case scalar, sequence, mapping }

    struct Record: Sendable {
        var kind: Kind
        var style: YAMLNode.Scalar.Style
        /// 0: no tag; 1: `!!str`; n > 1: `strings[n - 2]`.
        var tag: Int32
        /// One-based, in the text; a negative line is the index (-1 - line) of
        /// a location given whole, in `locations`.
        var line: Int32
        var column: Int32
        /// A scalar's text is `source` bytes start..<start+count, or `strings[start]` when count is -1.
        /// A collection's children are `links` start..<start+count (keys and values alternate in a mapping).
        var start: Int32
        var count: Int32
        /// The collection holding this node; -1 for a root.
        var parent: Int32 = -1
    }

    let origin: TextOrigin
    /// The bytes of the parsed text (empty when every text is in `strings`).
    private let source: YAMLSource
    /// `source.bytes`, at hand: read-only memory that lives as long as `source`.
    nonisolated(unsafe) private let bytes: UnsafeBufferPointer<UInt8>
    let records: [Record]
    let links: [Int32]
    let strings: [String]
    let locations: [SourceLocation]
    /// Every mapping key is a string (a scalar that is not null), as FastYAML
    /// makes them: lookups then need not check.
    let keysAreStrings: Bool

    fileprivate init(origin: TextOrigin, source: YAMLSource, records: [Record], links: [Int32], strings: [String],
                     locations: [SourceLocation], keysAreStrings: Bool) {
        self.origin = origin
        self.source = source
        bytes = source.bytes
        self.records = records
        self.links = links
        self.strings = strings
        self.locations = locations
        self.keysAreStrings = keysAreStrings
    }

    func location(_ r: Record) -> SourceLocation {
        r.line < 0 ? locations[Int(-1 - r.line)] : origin.location(line: Int(r.line), column: Int(r.column))
    }

    func tag(_ r: Record) -> String? {
        switch r.tag {
        case 0: nil
        case 1: YAMLNode.strTag
        default: strings[Int(r.tag - 2)]
        }
    }

    func text(_ r: Record) -> String {
        if r.count < 0 { return strings[Int(r.start)] }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(r.start)..<Int(r.start + r.count)]), as: UTF8.self)
    }

    func withText<R>(_ r: Record, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if r.count < 0 {
            var text = strings[Int(r.start)]
            return text.withUTF8(body)
        }
        return body(UnsafeBufferPointer(rebasing: bytes[Int(r.start)..<Int(r.start + r.count)]))
    }

    /// Compares a scalar's text with `other` (its UTF-8 bytes) without making a String.
    func text(_ r: Record, equals other: UnsafeBufferPointer<UInt8>) -> Bool {
        if r.count < 0 { return strings[Int(r.start)].utf8.elementsEqual(other) }
        guard Int(r.count) == other.count else { return false }
        let start = Int(r.start)
        for k in 0..<other.count where bytes[start + k] != other[k] { return false }
        return true
    }

    func text(_ r: Record, equals other: String) -> Bool {
        var other = other
        return other.withUTF8 { text(r, equals: $0) }
    }

    /// `~`, `null` or nothing at all (YAML 1.2 core schema), or `!!null`.
    func isNull(_ r: Record) -> Bool {
        guard r.kind == .scalar else { return false }
        // Tag 1, !!str, is on every plain mapping key: no need to compare it.
        if r.tag == 1 { return false }
        if r.tag != 0 { return tag(r) == YAMLNode.nullTag }
        guard r.style == .plain else { return false }
        switch r.count {
        case 0: return true
        case 1, 4, -1: break
        default: return false
        }
        return text(r, equals: "~") || text(r, equals: "null") || text(r, equals: "Null") || text(r, equals: "NULL")
            || r.count < 0 && strings[Int(r.start)].isEmpty
    }
}

/// Collects the records of a tree while a parser reads its text.
struct YAMLTreeBuilder: Sendable {
    private var records: [YAMLTree.Record] = []
    private var links: [Int32] = []
    private var strings: [String] = []
    private var locations: [SourceLocation] = []
    /// Children of the collections being read, innermost last.
    private var pending: [Int32] = []
    /// Set by a parser whose keys are all strings (`YAMLTree.keysAreStrings`).
    var keysAreStrings = false

    init(expectedNodes: Int = 0) {
        records.reserveCapacity(expectedNodes)
        links.reserveCapacity(expectedNodes)
    }

    func record(_ id: Int32) -> YAMLTree.Record { records[Int(id)] }
    func string(_ index: Int) -> String { strings[index] }

    private mutating func add(_ record: YAMLTree.Record) -> Int32 {
        records.append(record)
        return Int32(records.count - 1)
    }

    enum Tag: Sendable {
        case none
        /// `tag:yaml.org,2002:str`, which most tags are.
        case str
        case other(String)

        init(_ tag: String?) {
            self = switch tag {
            case nil: .none
            case YAMLNode.strTag: .str
            case let tag?: .other(tag)
            }
        }
    }

    private mutating func tagNumber(_ tag: Tag) -> Int32 {
        switch tag {
        case .none: return 0
        case .str: return 1
        case .other(let text):
            strings.append(text)
            return Int32(strings.count + 1)
        }
    }

    /// A scalar whose text is `count` bytes of the source from `start`.
    mutating func scalar(start: Int, count: Int, style: YAMLNode.Scalar.Style, tag: Tag,
                         line: Int, column: Int) -> Int32 {
        add(.init(kind: .scalar, style: style, tag: tagNumber(tag), line: Int32(line), column: Int32(column),
                  start: Int32(start), count: Int32(count)))
    }

    /// A scalar whose text is not a slice of the source (escapes, block scalars, the reference reading).
    mutating func scalar(text: String, style: YAMLNode.Scalar.Style, tag: Tag, line: Int, column: Int) -> Int32 {
        // The tag first: a tag of its own is a string too, and must not take the text's place.
        let tag = tagNumber(tag)
        strings.append(text)
        return add(.init(kind: .scalar, style: style, tag: tag, line: Int32(line), column: Int32(column),
                         start: Int32(strings.count - 1), count: -1))
    }

    mutating func scalar(text: String, style: YAMLNode.Scalar.Style, tag: Tag, location: SourceLocation) -> Int32 {
        let id = scalar(text: text, style: style, tag: tag, line: 0, column: 0)
        place(id, at: location)
        return id
    }

    private mutating func place(_ id: Int32, at location: SourceLocation) {
        locations.append(location)
        records[Int(id)].line = Int32(-locations.count)
    }

    /// Where the children of the next collection start; pass it to `collection`.
    var mark: Int { pending.count }

    /// Child `n` of the collections being read (from a `mark` on, keys and values alternate in a mapping).
    func child(_ n: Int) -> Int32 { pending[n] }

    mutating func addChild(_ id: Int32) { pending.append(id) }

    mutating func collection(_ kind: YAMLTree.Kind, from mark: Int, line: Int, column: Int) -> Int32 {
        let start = links.count
        let id = Int32(records.count)
        for child in pending[mark...] { records[Int(child)].parent = id }
        links.append(contentsOf: pending[mark...])
        pending.removeSubrange(mark...)
        return add(.init(kind: kind, style: .plain, tag: 0, line: Int32(line), column: Int32(column),
                         start: Int32(start), count: Int32(links.count - start)))
    }

    mutating func collection(_ kind: YAMLTree.Kind, from mark: Int, location: SourceLocation) -> Int32 {
        let id = collection(kind, from: mark, line: 0, column: 0)
        place(id, at: location)
        return id
    }

    /// Copies `node` (from any tree) into this one.
    mutating func copy(_ node: YAMLNode) -> Int32 {
        switch node.content {
        case .scalar(let s):
            return scalar(text: s.text, style: s.style, tag: Tag(s.tag), location: node.location)
        case .sequence(let items):
            let mark = mark
            for item in items { addChild(copy(item)) }
            return collection(.sequence, from: mark, location: node.location)
        case .mapping(let pairs):
            let mark = mark
            for pair in pairs {
                addChild(copy(pair.key))
                addChild(copy(pair.value))
            }
            return collection(.mapping, from: mark, location: node.location)
        }
    }

    func tree(source: YAMLSource = .none, origin: TextOrigin) -> YAMLTree {
        YAMLTree(origin: origin, source: source, records: records, links: links, strings: strings, locations: locations,
                 keysAreStrings: keysAreStrings)
    }
}

/// A copy of the bytes a tree was read from, kept (and freed) with the tree:
/// records point into it, and a copy gives a stable address to compare keys
/// against without going through String each time.
final class YAMLSource: @unchecked Sendable {
    // Written once, in init; read only afterwards.
    let bytes: UnsafeBufferPointer<UInt8>

    static let none = YAMLSource(copying: UnsafeBufferPointer(start: nil, count: 0))

    init(copying original: UnsafeBufferPointer<UInt8>) {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(original.count, 1))
        _ = copy.initialize(from: original)
        bytes = UnsafeBufferPointer(rebasing: copy[..<original.count])
    }

    deinit {
        UnsafeMutableBufferPointer(mutating: bytes).deallocate()
    }
}
