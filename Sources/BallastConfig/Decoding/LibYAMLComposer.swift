import BallastCore
import CLibYAML

/// The reference reading of YAML: libyaml's parser events composed into a
/// `YAMLTree`, for every text `FastYAML` leaves out and for every error.
///
/// Until ballastd dropped Foundation this was Yams 6 (which bundles the same
/// libyaml), and manifests, tests and error texts were written against what
/// it read. So nodes come out exactly as Yams composed them
/// (BallastConfigTests' LibYAMLParityTests keep it so):
/// - A plain untagged scalar has no tag; a quoted or block one is implicitly
///   `!!str` (libyaml's `quoted_implicit`), which `YAMLNode` keeps for block
///   scalars only; `!` alone is no tag.
/// - Yams looks for a repeated key by hashing every key of a mapping, which
///   resolves the key's tag for good: a plain key, and every scalar inside a
///   collection used as a key, becomes `!!str`. The tag is shared by every
///   alias of the node, so an anchored scalar used as a key is `!!str`
///   wherever else it appears in the document, even before the key.
/// - An alias is a copy of the anchored node. Anchors live for the whole
///   stream, not one document; a later anchor of the same name shadows an
///   earlier one, and a node cannot refer to itself (its anchor is defined
///   once the node is complete).
/// - A mapping that repeats a key is an error naming every repeated key, at
///   the first of them in Yams' order.
/// - A leading U+FEFF is dropped from a scalar's text (Foundation's UTF-8
///   decoding did that).
///
/// The nodes of a document are first staged here, with aliases shared, and
/// copied into the tree when the document ends: tags can change until then.
struct LibYAMLComposer {
    /// libyaml as bundled by Yams refuses about this much nesting (Debian's
    /// 0.2.5 has no limit); decoders walk nodes recursively.
    static let maxDepth = 1000

    /// A staged node. Aliases are the same node, so it may sit in several places.
    private struct Node {
        var kind: YAMLTree.Kind
        var style: YAMLNode.Scalar.Style
        /// `Tags.implicit`, `.nonSpecific`, `.str`, or an index into `tagNames`.
        var tag: Int32
        /// One-based, as Yams reports libyaml's zero-based marks.
        var line: Int32
        var column: Int32
        /// A scalar's text is `texts[start]`; a collection's children are
        /// `links[start..<start + count]` (keys and values alternate in a mapping).
        var start: Int32
        var count: Int32
    }

    /// Tag numbers with a meaning of their own; every other tag is `tagNames[number]`.
    private enum Tags {
        /// No tag: a plain scalar, or a collection without one.
        static let implicit: Int32 = 0
        /// `!`: no particular tag, which Yams resolves like none.
        static let nonSpecific: Int32 = 1
        static let str: Int32 = 2
        static let seq: Int32 = 3
        static let map: Int32 = 4
    }

    /// A collection whose end event has not come yet.
    private struct Open {
        var kind: YAMLTree.Kind
        var tag: Int32
        var line: Int32
        var column: Int32
        var anchor: String?
        /// Where its children start in `pending`.
        var mark: Int
    }

    private let origin: TextOrigin
    private let maxDepth: Int
    private var nodes: [Node] = []
    private var texts: [String] = []
    private var links: [Int32] = []
    private var tagNames = ["", "!", YAMLNode.strTag, "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"]
    private var tagNumbers: [String: Int32] = ["": Tags.implicit, "!": Tags.nonSpecific, YAMLNode.strTag: Tags.str,
                                               "tag:yaml.org,2002:seq": Tags.seq, "tag:yaml.org,2002:map": Tags.map]
    private var anchors: [String: Int32] = [:]
    /// Children of the open collections, innermost last.
    private var pending: [Int32] = []
    private var open: [Open] = []
    /// The node of the document being read, once complete.
    private var root: Int32?

    /// Every document of `text`, null ones left out.
    static func compose(_ text: String, origin: TextOrigin, maxDepth: Int = maxDepth) throws(Diagnostics) -> [YAMLNode] {
        var text = text
        text.makeContiguousUTF8()
        let result = text.utf8.withContiguousStorageIfAvailable { bytes -> Result<[YAMLNode], Diagnostics> in
            var composer = LibYAMLComposer(origin: origin, maxDepth: maxDepth)
            return Result { () throws(Diagnostics) in try composer.read(bytes, text: text) }
        }
        // Always there: the text was just made contiguous.
        return try result!.get()
    }

    private init(origin: TextOrigin, maxDepth: Int) {
        self.origin = origin
        self.maxDepth = maxDepth
    }

    private mutating func read(_ bytes: UnsafeBufferPointer<UInt8>, text: String) throws(Diagnostics) -> [YAMLNode] {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { throw memoryError() }
        defer { yaml_parser_delete(parser) }
        // Set, not detected: a byte order mark then stays in the text, and
        // libyaml skips it where a line starts (counting it as a column), as it did under Yams.
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        // libyaml keeps the address and wants one even for no text.
        let empty = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        defer { empty.deallocate() }
        yaml_parser_set_input_string(parser, bytes.baseAddress ?? UnsafePointer(empty), bytes.count)

        var builder = YAMLTreeBuilder()
        var roots: [Int32] = []
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { throw diagnostic(parser.pointee, text: text) }
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT:
                let tree = builder.tree(origin: origin)
                return roots.map { YAMLNode(tree: tree, id: $0) }.filter { !$0.isNull }
            case YAML_DOCUMENT_END_EVENT:
                if let root { roots.append(emit(root, into: &builder)) }
                root = nil
                // Nothing staged can be referred to again.
                if anchors.isEmpty { clearStaged() }
            case YAML_SCALAR_EVENT: scalar(event)
            case YAML_ALIAS_EVENT: try alias(event)
            case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT: try start(event)
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT: try end()
            default: break  // stream and document starts
            }
        }
    }

    // MARK: Events

    private mutating func scalar(_ event: yaml_event_t) {
        let data = event.data.scalar
        var text = String(decoding: UnsafeBufferPointer(start: data.value, count: data.length), as: UTF8.self)
        if text.unicodeScalars.first == "\u{FEFF}" { text.unicodeScalars.removeFirst() }
        let style: YAMLNode.Scalar.Style = switch data.style {
        case YAML_LITERAL_SCALAR_STYLE: .literal
        case YAML_FOLDED_SCALAR_STYLE: .folded
        case YAML_SINGLE_QUOTED_SCALAR_STYLE, YAML_DOUBLE_QUOTED_SCALAR_STYLE: .quoted
        default: .plain
        }
        texts.append(text)
        let mark = event.start_mark
        let id = add(Node(kind: .scalar, style: style,
                          tag: data.quoted_implicit == 1 ? Tags.str : tagNumber(data.tag),
                          line: Int32(mark.line + 1), column: Int32(mark.column + 1),
                          start: Int32(texts.count - 1), count: 0))
        define(Self.string(data.anchor), as: id)
        place(id)
    }

    private mutating func alias(_ event: yaml_event_t) throws(Diagnostics) {
        guard let id = anchors[Self.string(event.data.alias.anchor) ?? ""] else {
            throw syntaxError("found undefined alias", context: nil, at: event.start_mark)
        }
        place(id)
    }

    private mutating func start(_ event: yaml_event_t) throws(Diagnostics) {
        guard open.count < maxDepth else {
            throw Diagnostics([Diagnostic(.error, "YAML syntax: collections nested more than \(maxDepth) deep",
                                          at: location(event.start_mark))])
        }
        // A collection's tag counts only when written (libyaml's `implicit`), as Yams read it.
        let isMapping = event.type == YAML_MAPPING_START_EVENT
        let (anchor, tag, implicit) = isMapping
            ? (event.data.mapping_start.anchor, event.data.mapping_start.tag, event.data.mapping_start.implicit)
            : (event.data.sequence_start.anchor, event.data.sequence_start.tag, event.data.sequence_start.implicit)
        let mark = event.start_mark
        open.append(Open(kind: isMapping ? .mapping : .sequence, tag: implicit != 0 ? Tags.implicit : tagNumber(tag),
                         line: Int32(mark.line + 1), column: Int32(mark.column + 1), anchor: Self.string(anchor),
                         mark: pending.count))
    }

    private mutating func end() throws(Diagnostics) {
        let collection = open.removeLast()
        let children = pending[collection.mark...]
        if collection.kind == .mapping {
            try checkKeys(stride(from: children.startIndex, to: children.endIndex, by: 2).map { children[$0] })
        }
        let start = links.count
        links.append(contentsOf: children)
        pending.removeSubrange(collection.mark...)
        let id = add(Node(kind: collection.kind, style: .plain, tag: collection.tag, line: collection.line,
                          column: collection.column, start: Int32(start), count: Int32(links.count - start)))
        define(collection.anchor, as: id)
        place(id)
    }

    // MARK: Staging

    private mutating func add(_ node: Node) -> Int32 {
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    /// Puts a complete node into the collection being read, or makes it the document's.
    private mutating func place(_ id: Int32) {
        if open.isEmpty {
            root = id
        } else {
            pending.append(id)
        }
    }

    private mutating func define(_ anchor: String?, as id: Int32) {
        if let anchor { anchors[anchor] = id }
    }

    private mutating func clearStaged() {
        nodes.removeAll(keepingCapacity: true)
        texts.removeAll(keepingCapacity: true)
        links.removeAll(keepingCapacity: true)
    }

    private mutating func tagNumber(_ tag: UnsafeMutablePointer<yaml_char_t>?) -> Int32 {
        guard let name = Self.string(tag) else { return Tags.implicit }
        if let number = tagNumbers[name] { return number }
        tagNames.append(name)
        tagNumbers[name] = Int32(tagNames.count - 1)
        return Int32(tagNames.count - 1)
    }

    private static func string(_ text: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        text.map { String(cString: $0) }
    }

    private func children(_ node: Node) -> ArraySlice<Int32> {
        links[Int(node.start)..<Int(node.start + node.count)]
    }

    /// Copies a staged node, and every node under it, into the tree.
    private func emit(_ id: Int32, into builder: inout YAMLTreeBuilder) -> Int32 {
        let node = nodes[Int(id)]
        switch node.kind {
        case .scalar:
            // Only a written tag is kept; quoted scalars are strings anyway (see YAMLNode).
            let tag: YAMLTreeBuilder.Tag = switch node.tag {
            case Tags.implicit, Tags.nonSpecific: .none
            case Tags.str: node.style == .quoted ? .none : .str
            default: .other(tagNames[Int(node.tag)])
            }
            return builder.scalar(text: texts[Int(node.start)], style: node.style, tag: tag,
                                  line: Int(node.line), column: Int(node.column))
        case .sequence, .mapping:
            let mark = builder.mark
            for child in children(node) { builder.addChild(emit(child, into: &builder)) }
            return builder.collection(node.kind, from: mark, line: Int(node.line), column: Int(node.column))
        }
    }

    // MARK: Repeated keys

    /// Refuses a mapping whose keys repeat, as Yams does: keys are equal when
    /// they are the same kind of node with equal text and resolved tags,
    /// recursively for collections; hashing them resolves their tags for good.
    private mutating func checkKeys(_ keys: [Int32]) throws(Diagnostics) {
        var visited: Set<Int32> = []
        for key in keys { resolve(key, visited: &visited) }

        // First occurrences of keys that repeat, and how many equal them.
        var firsts: [Int32] = []
        var scalarGroups: [ScalarKey: (first: Int32, count: Int)] = [:]
        var collectionGroups: [(first: Int32, count: Int)] = []
        for key in keys {
            let node = nodes[Int(key)]
            if node.kind == .scalar {
                let identity = ScalarKey(text: texts[Int(node.start)], tag: node.tag)
                if let group = scalarGroups[identity] {
                    if group.count == 1 { firsts.append(group.first) }
                    scalarGroups[identity]!.count += 1
                } else {
                    scalarGroups[identity] = (key, 1)
                }
            } else if let n = collectionGroups.firstIndex(where: { equal($0.first, key) }) {
                if collectionGroups[n].count == 1 { firsts.append(collectionGroups[n].first) }
                collectionGroups[n].count += 1
            } else {
                collectionGroups.append((key, 1))
            }
        }
        guard !firsts.isEmpty else { return }

        let sorted = sortedForReport(firsts)
        let names = sorted.map { "\"\(name(of: $0) ?? "<uncovertable>")\"" }.joined(separator: ", ")
        let first = nodes[Int(sorted[0])]
        throw Diagnostics([Diagnostic(.error, "key \(names) appears more than once in one mapping",
                                      at: origin.location(line: Int(first.line), column: Int(first.column)),
                                      hint: "keep one of them; YAML mappings cannot repeat a key")])
    }

    private struct ScalarKey: Hashable {
        /// Compared as Strings are: canonically equivalent texts are the same key.
        var text: String
        var tag: Int32
    }

    /// Gives every scalar at or under `id` a tag, as Yams' resolver does when hashing a key.
    private mutating func resolve(_ id: Int32, visited: inout Set<Int32>) {
        let node = nodes[Int(id)]
        switch node.kind {
        case .scalar:
            if node.tag == Tags.implicit || node.tag == Tags.nonSpecific { nodes[Int(id)].tag = Tags.str }
        case .sequence, .mapping:
            // Aliases can make the same collection appear many times.
            guard visited.insert(id).inserted else { return }
            for child in children(node) { resolve(child, visited: &visited) }
        }
    }

    /// A node's tag once resolved: a collection without one is `!!seq` or `!!map`.
    private func resolvedTag(_ node: Node) -> Int32 {
        guard node.tag == Tags.implicit || node.tag == Tags.nonSpecific else { return node.tag }
        return switch node.kind {
        case .scalar: Tags.str
        case .sequence: Tags.seq
        case .mapping: Tags.map
        }
    }

    private func equal(_ a: Int32, _ b: Int32) -> Bool {
        if a == b { return true }
        let x = nodes[Int(a)], y = nodes[Int(b)]
        guard x.kind == y.kind, resolvedTag(x) == resolvedTag(y) else { return false }
        if x.kind == .scalar { return texts[Int(x.start)] == texts[Int(y.start)] }
        return x.count == y.count && zip(children(x), children(y)).allSatisfy { equal($0, $1) }
    }

    /// Yams' order of nodes: scalars by text, collections item by item (a
    /// mapping by its keys only), nodes of different kinds unordered. Where
    /// that leaves the order open (Yams then followed its hash order) the
    /// earlier key comes first, and kinds go scalars, lists, mappings.
    private func sortedForReport(_ keys: [Int32]) -> [Int32] {
        func rank(_ kind: YAMLTree.Kind) -> Int {
            switch kind {
            case .scalar: 0
            case .sequence: 1
            case .mapping: 2
            }
        }
        return keys.sorted { a, b in
            let x = nodes[Int(a)].kind, y = nodes[Int(b)].kind
            if x != y { return rank(x) < rank(y) }
            if less(a, b) { return true }
            if less(b, a) { return false }
            return a < b
        }
    }

    private func less(_ a: Int32, _ b: Int32) -> Bool {
        let x = nodes[Int(a)], y = nodes[Int(b)]
        switch (x.kind, y.kind) {
        case (.scalar, .scalar):
            return texts[Int(x.start)] < texts[Int(y.start)]
        case (.sequence, .sequence), (.mapping, .mapping):
            // A mapping compares pair by pair, and pairs by their keys only.
            let step = x.kind == .mapping ? 2 : 1
            let xs = children(x), ys = children(y)
            for (p, q) in zip(stride(from: xs.startIndex, to: xs.endIndex, by: step),
                              stride(from: ys.startIndex, to: ys.endIndex, by: step)) {
                if less(xs[p], ys[q]) { return true }
                if less(ys[q], xs[p]) { return false }
            }
            return xs.count < ys.count
        default:
            return false
        }
    }

    /// How Yams names a key in its error: a scalar's text; for a mapping, the
    /// name of the value of its `!!value` key, if it has one.
    private func name(of id: Int32) -> String? {
        let node = nodes[Int(id)]
        switch node.kind {
        case .scalar:
            return texts[Int(node.start)]
        case .sequence:
            return nil
        case .mapping:
            let pairs = children(node)
            for p in stride(from: pairs.startIndex, to: pairs.endIndex, by: 2)
            where tagNames[Int(nodes[Int(pairs[p])].tag)] == "tag:yaml.org,2002:value" {
                return name(of: pairs[p + 1])
            }
            return nil
        }
    }

    // MARK: Errors

    /// A libyaml mark (zero-based) in the file.
    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        origin.location(line: Int(mark.line + 1), column: Int(mark.column + 1))
    }

    /// libyaml's own words, at its marks.
    private func syntaxError(_ problem: String, context: (text: String, mark: yaml_mark_t)?,
                             at mark: yaml_mark_t) -> Diagnostics {
        let contextText = context.map { " (\($0.text) at line \(Int($0.mark.line + 1) + origin.lineOffset))" } ?? ""
        return Diagnostics([Diagnostic(.error, "YAML syntax: \(problem)\(contextText)", at: location(mark),
                                       hint: problem.contains("tab")
                                           ? "indent with spaces; YAML does not allow tabs for indentation" : nil)])
    }

    private func diagnostic(_ parser: yaml_parser_t, text: String) -> Diagnostics {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown problem"
        switch parser.error {
        case YAML_READER_ERROR:
            // The offset is in bytes; Yams gave it in characters, when it falls on one.
            let utf8 = text.utf8
            let at = utf8.index(utf8.startIndex, offsetBy: parser.problem_offset, limitedBy: utf8.endIndex)?
                .samePosition(in: text)
                .map { text.distance(from: text.startIndex, to: $0) }
            return Diagnostics([Diagnostic(.error, "cannot read the text: \(problem)\(at.map { " at character \($0)" } ?? "")",
                                           at: origin.location(line: 1, column: 1), hint: "save the file as UTF-8")])
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            return syntaxError(problem, context: parser.context.map { (String(cString: $0), parser.context_mark) },
                               at: parser.problem_mark)
        default:
            return memoryError()
        }
    }

    private func memoryError() -> Diagnostics {
        Diagnostics([Diagnostic(.error, "cannot parse YAML: Memory error", at: origin.location(line: 1, column: 1))])
    }
}
