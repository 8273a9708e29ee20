import BallastCore

/// A parsed YAML (or JSON) node with the place it came from.
///
/// Immutable and Sendable, and scalars keep their *style* instead of a
/// resolved tag, because the decoders decide what a scalar means from the
/// field it fills. Resolution follows the YAML 1.2 core
/// schema for plain scalars (so `no` and `on` are strings, not booleans);
/// quoted scalars are always strings.
///
/// A node is a position in a `YAMLTree`: copying one costs a reference count,
/// and the accessors below read the tree without building arrays or Strings
/// (`content` builds them, for code that wants to pattern-match).
struct YAMLNode: Sendable {
    struct Scalar: Sendable {
        enum Style: UInt8, Sendable { case plain, quoted, literal, folded }

        var text: String
        var style: Style
        /// An explicit tag such as `!!str`, in its long form.
        var tag: String?

        /// Unquoted and untagged: the only kind that may mean null, a boolean or a number.
        var isPlain: Bool { style == .plain && tag == nil }
    }

    struct Pair: Sendable {
        var key: YAMLNode
        var value: YAMLNode
    }

    enum Content: Sendable {
        case scalar(Scalar)
        case sequence([YAMLNode])
        case mapping([Pair])
    }

    let tree: YAMLTree
    let id: Int32

    init(tree: YAMLTree, id: Int32) {
        self.tree = tree
        self.id = id
    }

    /// A node of its own (deep-copying `content`), for values made in code.
    init(content: Content, location: SourceLocation) {
        var builder = YAMLTreeBuilder()
        let id: Int32
        switch content {
        case .scalar(let s):
            id = builder.scalar(text: s.text, style: s.style, tag: .init(s.tag), location: location)
        case .sequence(let items):
            let mark = builder.mark
            for item in items { builder.addChild(builder.copy(item)) }
            id = builder.collection(.sequence, from: mark, location: location)
        case .mapping(let pairs):
            let mark = builder.mark
            for pair in pairs {
                builder.addChild(builder.copy(pair.key))
                builder.addChild(builder.copy(pair.value))
            }
            id = builder.collection(.mapping, from: mark, location: location)
        }
        self.init(tree: builder.tree(origin: TextOrigin(file: location.file)), id: id)
    }

    static let strTag = "tag:yaml.org,2002:str"
    static let nullTag = "tag:yaml.org,2002:null"

    private var record: YAMLTree.Record { tree.records[Int(id)] }

    var kind: YAMLTree.Kind { record.kind }
    var location: SourceLocation { tree.location(record) }

    var content: Content {
        let r = record
        switch r.kind {
        case .scalar: return .scalar(Scalar(text: tree.text(r), style: r.style, tag: tree.tag(r)))
        case .sequence: return .sequence((0..<count).map(item))
        case .mapping: return .mapping((0..<count).map { Pair(key: key($0), value: value($0)) })
        }
    }

    var scalar: Scalar? {
        let r = record
        guard r.kind == .scalar else { return nil }
        return Scalar(text: tree.text(r), style: r.style, tag: tree.tag(r))
    }

    /// A scalar's text, without its style and tag.
    var text: String? {
        let r = record
        return r.kind == .scalar ? tree.text(r) : nil
    }

    /// Whether this is a scalar reading `text`; makes no String.
    func isScalar(_ text: String) -> Bool {
        let r = record
        return r.kind == .scalar && tree.text(r, equals: text)
    }

    /// Unquoted and untagged (`Scalar.isPlain`), without making the Scalar.
    var isPlainScalar: Bool {
        let r = record
        return r.kind == .scalar && r.style == .plain && r.tag == 0
    }

    /// `body` applied to a scalar's text as UTF-8 bytes, without making a String; nil for a collection.
    func withScalarBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        let r = record
        guard r.kind == .scalar else { return nil }
        return tree.withText(r, body)
    }

    /// Items of a sequence, pairs of a mapping, 0 for a scalar.
    var count: Int {
        let r = record
        guard r.kind != .scalar else { return 0 }
        return Int(r.kind == .mapping ? r.count / 2 : r.count)
    }

    private func link(_ n: Int) -> YAMLNode { YAMLNode(tree: tree, id: tree.links[Int(record.start) + n]) }

    func item(_ n: Int) -> YAMLNode { link(n) }
    func key(_ n: Int) -> YAMLNode { link(2 * n) }
    func value(_ n: Int) -> YAMLNode { link(2 * n + 1) }

    /// How a node is reached from the collection holding it.
    enum Step {
        case key(String)
        case index(Int)
    }

    /// The steps from node `start` (an ancestor) down to this one.
    func steps(from start: Int32) -> [Step] {
        var steps: [Step] = []
        var child = id
        while child != start {
            let parent = tree.records[Int(child)].parent
            guard parent >= 0 else { break }
            let holder = YAMLNode(tree: tree, id: parent)
            let position = (0..<Int(holder.record.count)).first { tree.links[Int(holder.record.start) + $0] == child } ?? 0
            steps.append(holder.kind == .mapping ? .key(holder.key(position / 2).text ?? "") : .index(position))
            child = parent
        }
        return steps.reversed()
    }

    /// Whether the key of pair `n` is a string (not null, not a collection).
    func hasStringKey(_ n: Int) -> Bool {
        let key = tree.records[Int(tree.links[Int(record.start) + 2 * n])]
        return key.kind == .scalar && !tree.isNull(key)
    }

    /// The first pair whose key is the string `key`; makes no String.
    func pairIndex(ofKey key: String) -> Int? {
        let r = record
        guard r.kind == .mapping else { return nil }
        var key = key
        return key.withUTF8 { wanted -> Int? in
            let records = tree.records, links = tree.links
            let length = Int32(wanted.count)
            for n in 0..<Int(r.count / 2) {
                let k = records[Int(links[Int(r.start) + 2 * n])]
                // The length, then the text: they rule out nearly every pair before the null check runs.
                if k.kind == .scalar && (k.count == length || k.count < 0) && tree.text(k, equals: wanted) && !tree.isNull(k) {
                    return n
                }
            }
            return nil
        }
    }

    /// `~`, `null` or nothing at all (YAML 1.2 core schema), or `!!null`.
    var isNull: Bool { tree.isNull(record) }

    /// How the node is named in "expected X, found Y" messages.
    var kindDescription: String {
        switch kind {
        case .scalar: isNull ? "null" : "\"\(tree.text(record))\""
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// Where a YAML text sits inside a file: all of it (the usual case), or a
/// literal block scalar embedded in another document (MetalLB's legacy
/// ConfigMap holds its configuration as a string under `data.config`).
struct TextOrigin: Sendable {
    var file: String
    var lineOffset: Int = 0
    var columnOffset: Int = 0
    /// Set when positions inside the text cannot be mapped back to the file
    /// (a quoted or folded string): everything is reported at the string itself.
    var pinned: SourceLocation?

    init(file: String, lineOffset: Int = 0, columnOffset: Int = 0) {
        self.file = file
        self.lineOffset = lineOffset
        self.columnOffset = columnOffset
    }

    init(pinnedTo location: SourceLocation) {
        self.init(file: location.file)
        pinned = location
    }

    /// The text of a block scalar at `node`, which is at `location` in `source`.
    /// Literal block lines map one to one onto file lines, shifted by the
    /// block's indentation; other styles are pinned to the scalar.
    init(embeddedIn node: YAMLNode, source: String) {
        guard node.scalar?.style == .literal else {
            self.init(pinnedTo: node.location)
            return
        }
        // The node's mark is the "|" indicator; the content starts on the next line.
        let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let firstContent = lines.dropFirst(node.location.line).first { !$0.allSatisfy(\.isWhitespace) }
        let indent = firstContent.map { $0.prefix { $0 == " " }.count } ?? 0
        self.init(file: node.location.file, lineOffset: node.location.line, columnOffset: indent)
    }

    /// The place of a one-based line and column of the text.
    func location(line: Int, column: Int) -> SourceLocation {
        pinned ?? SourceLocation(file: file, line: line + lineOffset, column: column + columnOffset)
    }
}

enum YAMLDocuments {
    /// Every document of a YAML stream (JSON is a subset of the YAML that
    /// libyaml reads, so JSON files come through here too). Empty documents —
    /// a stray `---` at the end, a file of comments — are left out.
    static func parse(_ text: String, file: String) throws(Diagnostics) -> [YAMLNode] {
        try parse(text, origin: TextOrigin(file: file))
    }

    static func parse(_ text: String, origin: TextOrigin) throws(Diagnostics) -> [YAMLNode] {
        if let documents = FastYAML.parse(text, origin: origin) { return documents }
        return try parseWithLibYAML(text, origin: origin)
    }

    /// The reference reading, for everything `FastYAML` leaves out (and every error).
    static func parseWithLibYAML(_ text: String, origin: TextOrigin) throws(Diagnostics) -> [YAMLNode] {
        try LibYAMLComposer.compose(text, origin: origin)
    }
}
