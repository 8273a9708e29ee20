import BallastCore

/// A fast reader for the YAML that manifests are made of, straight from the
/// UTF-8 bytes to `YAMLNode`s: block mappings and sequences (kubectl's
/// unindented `- ` lists included), one-line plain and quoted scalars, literal
/// `|` blocks, and flow collections over any number of lines — so JSON too.
///
/// It exists because going through Yams (the reader then) cost a class
/// instance, a tag and a String conversion per node, which made a directory of
/// 10,000 Services take seconds; libyaml's events cost a String per scalar
/// still. It accepts only input it reads exactly as the reference reading
/// (`LibYAMLComposer`: libyaml, composed as Yams did) does — same text, style
/// and mark for every node; anything else — anchors, tags, folded or
/// multi-line scalars, tabs in indentation, duplicate keys, any syntax error —
/// makes it give up, and `YAMLDocuments` parses the text with the reference
/// reading, which then also words the error. FastYAMLTests compares the two on many inputs.
struct FastYAML {
    /// A node of the tree being built.
    private typealias Node = Int32

    /// The input is outside the subset read here (not necessarily invalid).
    struct Unsupported: Error {}

    private let bytes: UnsafeBufferPointer<UInt8>
    private var builder: YAMLTreeBuilder
    /// Every byte is ASCII, so a column is a byte offset within its line.
    private let ascii: Bool
    private var i = 0
    /// Zero-based line of `i`, and where that line starts.
    private var line = 0
    private var lineStart = 0
    private var depth = 0

    /// libyaml nests at most 1000 levels; Kubernetes objects need far fewer.
    private static let maxDepth = 200
    /// libyaml forgets a possible simple key 1024 characters after its start.
    private static let maxKeyLength = 1000

    /// The non-null documents of `text`, or nil when the reference reading must read it.
    static func parse(_ text: String, origin: TextOrigin) -> [YAMLNode]? {
        var text = text
        text.makeContiguousUTF8()
        guard let part = read(text, start: 0, count: text.utf8.count) else { return nil }
        return part.documents(origin)
    }

    /// The documents of part of a text, before they are placed in a file:
    /// their positions count lines from the start of the part.
    struct Part: Sendable {
        fileprivate var builder: YAMLTreeBuilder
        fileprivate var roots: [Int32]
        fileprivate var source: YAMLSource
        /// Line breaks in the part, which shift the lines of the parts after it.
        fileprivate(set) var lines: Int

        func documents(_ origin: TextOrigin) -> [YAMLNode] {
            let tree = builder.tree(source: source, origin: origin)
            return roots.map { YAMLNode(tree: tree, id: $0) }
        }
    }

    /// Reads `count` bytes of `text` (contiguous UTF-8) from `start`, if they are inside the subset read here.
    private static func read(_ text: String, start: Int, count: Int) -> Part? {
        // Records keep offsets as Int32.
        guard count < Int32.max else { return nil }
        return text.utf8.withContiguousStorageIfAvailable { whole -> Part? in
            let bytes = UnsafeBufferPointer(rebasing: whole[start..<start + count])
            guard let ascii = scan(bytes) else { return nil }
            // About one node per 12 bytes in kubectl's YAML.
            var builder = YAMLTreeBuilder(expectedNodes: bytes.count / 12)
            // Keys are plain scalars tagged !!str (see plainKey) or quoted ones: never null, never collections.
            builder.keysAreStrings = true
            var parser = FastYAML(bytes: bytes, builder: builder, ascii: ascii)
            guard let roots = try? parser.stream() else { return nil }
            return Part(builder: parser.builder, roots: roots, source: YAMLSource(copying: bytes), lines: parser.line)
        } ?? nil
    }

    /// The documents of a large multi-document text, read in parts on all
    /// cores: the text is cut at document markers (`---` lines), which no
    /// document can span. Each part counts its own lines; the offset of each
    /// part is known once all are read. Nil when the text is small, has a
    /// single document, or any part is outside the subset read here (the
    /// caller then reads it whole, so every error is worded as usual).
    static func parseInParts(_ text: String, file: String, parts wanted: Int, minimumPart: Int) -> [[YAMLNode]]? {
        var text = text
        text.makeContiguousUTF8()
        let source = text
        guard let cuts = source.utf8.withContiguousStorageIfAvailable({ cuts(in: $0, parts: wanted, minimumPart: minimumPart) }),
              cuts.count > 1 else { return nil }
        // (A JSON text is one document: `cuts` gives up on it at once.)
        let ranges = zip(cuts, cuts.dropFirst() + [source.utf8.count]).map { $0..<$1 }
        let parts = concurrentMap(ranges) { read(source, start: $0.lowerBound, count: $0.count) }
        var lineOffset = 0
        var documents: [[YAMLNode]] = []
        for part in parts {
            guard let part else { return nil }
            documents.append(part.documents(TextOrigin(file: file, lineOffset: lineOffset)))
            lineOffset += part.lines
        }
        return documents
    }

    /// Where to cut `b` into about `parts` parts of at least `minimumPart`
    /// bytes: at the start of a `---` line, the first after each even share.
    private static func cuts(in b: UnsafeBufferPointer<UInt8>, parts: Int, minimumPart: Int) -> [Int] {
        // A text that starts with a flow collection (JSON) has no document markers worth looking for.
        if let first = b.first(where: { $0 != Self.space && $0 != Self.newline && $0 != Self.tab }),
           first == Self.openBrace || first == Self.openBracket {
            return [0]
        }
        let share = max(minimumPart, b.count / max(parts, 1))
        var cuts = [0]
        var j = share
        while j < b.count {
            // The next line start holding "---" and a blank (or the end).
            var lineEnd = j
            while lineEnd < b.count && b[lineEnd] != Self.newline { lineEnd += 1 }
            guard lineEnd < b.count else { break }
            let start = lineEnd + 1
            let marker = start + 3 <= b.count && b[start] == Self.dash && b[start + 1] == Self.dash && b[start + 2] == Self.dash
            if marker && (start + 3 == b.count || [Self.space, Self.tab, Self.newline].contains(b[start + 3])) {
                cuts.append(start)
                j = start + share
            } else {
                j = start
            }
        }
        return cuts
    }

    /// Whether every character is one libyaml reads as itself: no control
    /// characters (CR included: line ends are LF here), no BOM, no NEL, LS or
    /// PS line breaks. Returns whether the text is pure ASCII, nil if not readable here.
    private static func scan(_ b: UnsafeBufferPointer<UInt8>) -> Bool? {
        var ascii = true
        var j = 0
        let n = b.count
        let raw = UnsafeRawBufferPointer(b)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080, lows = ~highs
        /// The high bit of each byte of `x` that is zero (exact: no borrow crosses bytes).
        func zeros(_ x: UInt64) -> UInt64 { ~(((x & lows) &+ lows) | x) & highs }
        var bytewiseUntil = 0
        while j < n {
            // Eight bytes at a time while they are ASCII that needs no second
            // look: printable (0x20–0x7E), line feed or tab. Otherwise those
            // eight are checked one by one.
            if j >= bytewiseUntil && j + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: j, as: UInt64.self)
                let control = zeros(w & (0xE0 &* ones)) & ~zeros(w ^ (0x0A &* ones)) & ~zeros(w ^ (0x09 &* ones))
                if (w & highs) | control | zeros(w ^ (0x7F &* ones)) == 0 {
                    j += 8
                    continue
                }
                bytewiseUntil = j + 8
            }
            let c = b[j]
            if c >= 0x20 && c < 0x7F || c == 0x0A || c == 0x09 {
                j += 1
                continue
            }
            guard c >= 0x80 else { return nil }
            ascii = false
            // The text is valid UTF-8 (it is a String); only the code points libyaml treats specially are refused.
            switch c {
            case 0xC2 where j + 1 < n && b[j + 1] < 0xA0: return nil  // U+0080–U+009F, NEL among them
            case 0xE2 where j + 2 < n && b[j + 1] == 0x80 && (b[j + 2] == 0xA8 || b[j + 2] == 0xA9): return nil
            case 0xEF where j + 2 < n && (b[j + 1] == 0xBB && b[j + 2] == 0xBF || b[j + 1] == 0xBF && b[j + 2] >= 0xBE):
                return nil  // BOM, U+FFFE, U+FFFF
            default: break
            }
            j += 1
        }
        return ascii
    }

    // MARK: Bytes

    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), newline = UInt8(ascii: "\n")
    private static let hash = UInt8(ascii: "#"), colon = UInt8(ascii: ":"), dash = UInt8(ascii: "-")
    private static let comma = UInt8(ascii: ","), doubleQuote = UInt8(ascii: "\""), singleQuote = UInt8(ascii: "'")
    private static let openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")
    private static let openBracket = UInt8(ascii: "["), closeBracket = UInt8(ascii: "]")
    private static let backslash = UInt8(ascii: "\\"), pipe = UInt8(ascii: "|")

    /// The byte at `j`, or 0 past the end (the text holds no NUL: `scan` refuses control characters).
    @inline(__always) private func at(_ j: Int) -> UInt8 { j < bytes.count ? bytes[j] : 0 }

    /// Space, tab, line break or end of text (libyaml's "blankz").
    @inline(__always) private func isBlankOrEnd(_ j: Int) -> Bool {
        let c = at(j)
        return c == Self.space || c == Self.newline || c == 0 || c == Self.tab
    }

    @inline(__always) private static func isFlowIndicator(_ c: UInt8) -> Bool {
        c == comma || c == openBracket || c == closeBracket || c == openBrace || c == closeBrace
    }

    /// Characters that cannot start a plain scalar (libyaml's list; `-` is handled apart).
    @inline(__always) private static func isIndicator(_ c: UInt8) -> Bool {
        switch c {
        case 0x3F, 0x3A, 0x2C, 0x5B, 0x5D, 0x7B, 0x7D, 0x23, 0x26, 0x2A, 0x21, 0x7C, 0x3E, 0x27, 0x22, 0x25, 0x40, 0x60:
            true  // ? : , [ ] { } # & * ! | > ' " % @ `
        default: false
        }
    }

    // MARK: Positions

    /// One-based line and column, as the reference reading reports libyaml's marks.
    private struct Position {
        var line: Int
        var column: Int
    }

    private func position(_ j: Int) -> Position { Position(line: line + 1, column: column(j) + 1) }

    /// libyaml counts columns in characters.
    private func column(_ j: Int) -> Int {
        if ascii { return j - lineStart }
        var n = 0
        for k in lineStart..<j where bytes[k] & 0xC0 != 0x80 { n += 1 }
        return n
    }

    private mutating func newLine() {
        line += 1
        lineStart = i
    }

    /// A scalar whose text is the input from `start` to `end`, at `at` (its opening quote, if any).
    private mutating func scalar(_ start: Int, _ end: Int, _ style: YAMLNode.Scalar.Style, at j: Int) -> Node {
        let p = position(j)
        return builder.scalar(start: start, count: end - start, style: style, tag: .none, line: p.line, column: p.column)
    }

    /// A plain mapping key. The reference reading resolves every key's tag
    /// for good, as Yams did when hashing keys to find repeated ones: `!!str`.
    private mutating func plainKey(_ start: Int, _ end: Int) -> Node {
        let p = position(start)
        return builder.scalar(start: start, count: end - start, style: .plain, tag: .str, line: p.line, column: p.column)
    }

    private mutating func emptyScalar(at p: Position) -> Node {
        builder.scalar(start: 0, count: 0, style: .plain, tag: .none, line: p.line, column: p.column)
    }

    // MARK: Lines (block context)

    /// From the start of a line, skips blank and comment lines; stops at the
    /// first character of the next content line (its indentation is `i - lineStart`) or at the end.
    private mutating func skipToContent() throws(Unsupported) {
        while i < bytes.count {
            skipSpaces()
            switch at(i) {
            case Self.newline:
                i += 1
                newLine()
            case Self.hash:
                skipToLineEnd()
            case Self.tab:
                // Tabs may not indent; libyaml's errors for them depend on context.
                throw Unsupported()
            default:
                return
            }
        }
    }

    /// Past spaces, eight at a time where it can: indentation is most of kubectl's JSON.
    @inline(__always) private mutating func skipSpaces() {
        let n = bytes.count
        let raw = UnsafeRawBufferPointer(bytes)
        while i + 8 <= n && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) == 0x2020_2020_2020_2020 { i += 8 }
        while i < n && bytes[i] == Self.space { i += 1 }
    }

    /// Skips to the next line, past a comment.
    private mutating func skipToLineEnd() {
        while i < bytes.count && bytes[i] != Self.newline { i += 1 }
        if i < bytes.count {
            i += 1
            newLine()
        }
    }

    /// After a value: only spaces and a comment may follow on its line.
    private mutating func finishLine() throws(Unsupported) {
        while at(i) == Self.space { i += 1 }
        let c = at(i)
        guard c == Self.newline || c == 0 || c == Self.hash else { throw Unsupported() }
        skipToLineEnd()
    }

    private var atEnd: Bool { i >= bytes.count }

    /// `---` or `...` at the start of a line, followed by a blank: a document marker.
    private var atDocumentMarker: Bool {
        guard i == lineStart, i + 2 < bytes.count else { return false }
        let c = bytes[i]
        return (c == Self.dash || c == UInt8(ascii: ".")) && bytes[i + 1] == c && bytes[i + 2] == c && isBlankOrEnd(i + 3)
    }

    private var indent: Int { i - lineStart }

    // MARK: Documents

    private mutating func stream() throws(Unsupported) -> [Node] {
        var documents: [Node] = []
        try skipToContent()
        while !atEnd {
            if atDocumentMarker {
                guard bytes[i] == Self.dash else { throw Unsupported() }  // "..." ends a document; rare: the reference reading
                i += 3
                try finishLine()
                try skipToContent()
                continue
            }
            documents.append(try blockNode(parentIndent: -1))
            try skipToContent()
            guard atEnd || atDocumentMarker else { throw Unsupported() }
        }
        return documents
    }

    /// A collection starting at `i`, the first character of a content line,
    /// indented more than `parentIndent`; at the root, a flow collection too.
    /// Any scalar there may go on over several lines: the reference reading reads those.
    private mutating func blockNode(parentIndent: Int) throws(Unsupported) -> Node {
        let c = at(i)
        if isEntry { return try blockSequence(indentless: false) }
        if parentIndent < 0 && (c == Self.openBrace || c == Self.openBracket) {
            let node = try flowCollection()
            try finishLine()
            return node
        }
        let keyStart = i
        guard let key = try blockKey() else { throw Unsupported() }
        return try blockMapping(firstKey: key, at: keyStart)
    }

    /// "- " (or "-" at the end of a line) at `i`: a block sequence entry.
    private var isEntry: Bool { at(i) == Self.dash && isBlankOrEnd(i + 1) }

    // MARK: Block collections

    private mutating func enter() throws(Unsupported) {
        depth += 1
        if depth > Self.maxDepth { throw Unsupported() }
    }

    /// A block mapping whose first key, already read, started at `keyStart`;
    /// its other keys are in that column.
    private mutating func blockMapping(firstKey: Node, at keyStart: Int) throws(Unsupported) -> Node {
        try enter()
        defer { depth -= 1 }
        let mappingIndent = column(keyStart)
        let start = position(keyStart)
        let mark = builder.mark
        var first: Node? = firstKey
        while true {
            let key: Node
            if let firstKey = first {
                key = firstKey
                first = nil
            } else {
                guard let next = try blockKey() else { throw Unsupported() }
                key = next
            }
            let value = try blockValue(parentIndent: mappingIndent, empty: position(i), indentlessSequence: true)
            try addPair(key, value, from: mark)
            if atEnd || atDocumentMarker { break }
            let next = indent
            if next < mappingIndent { break }
            // A deeper line is a continuation libyaml would fold or reject; "- " here is an error.
            guard next == mappingIndent, !isEntry else { throw Unsupported() }
        }
        return builder.collection(.mapping, from: mark, line: start.line, column: start.column)
    }

    /// The reference reading rejects a mapping that repeats a key (and then says which one).
    private mutating func addPair(_ key: Node, _ value: Node, from mark: Int) throws(Unsupported) {
        for n in stride(from: mark, to: builder.mark, by: 2) where sameText(builder.child(n), key) { throw Unsupported() }
        builder.addChild(key)
        builder.addChild(value)
    }

    private func sameText(_ a: Node, _ b: Node) -> Bool {
        let x = builder.record(a), y = builder.record(b)
        if x.count >= 0 && y.count >= 0 {
            guard x.count == y.count else { return false }
            let xs = Int(x.start), ys = Int(y.start)
            for k in 0..<Int(x.count) where bytes[xs + k] != bytes[ys + k] { return false }
            return true
        }
        return text(x) == text(y)
    }

    private func text(_ r: YAMLTree.Record) -> String {
        if r.count < 0 { return builder.string(Int(r.start)) }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(r.start)..<Int(r.start + r.count)]), as: UTF8.self)
    }

    /// A block sequence whose first "-" is at `i`. An indentless one (kubectl's
    /// `ports:\n- port: 80`) ends at the first line in its column that is not an entry.
    private mutating func blockSequence(indentless: Bool) throws(Unsupported) -> Node {
        try enter()
        defer { depth -= 1 }
        let sequenceIndent = column(i)
        let start = position(i)
        let mark = builder.mark
        while true {
            i += 1  // the "-"
            let afterDash = position(i)
            while at(i) == Self.space { i += 1 }
            if isEntry { throw Unsupported() }  // "- - x"
            let keyStart = i
            if let key = try blockKey() {
                // "- key: value": a mapping whose keys line up with this first one.
                builder.addChild(try blockMapping(firstKey: key, at: keyStart))
            } else {
                builder.addChild(try blockValue(parentIndent: sequenceIndent, empty: afterDash, indentlessSequence: false))
            }
            if atEnd || atDocumentMarker { break }
            let next = indent
            if next == sequenceIndent && isEntry { continue }
            if next < sequenceIndent || next == sequenceIndent && indentless { break }
            throw Unsupported()
        }
        return builder.collection(.sequence, from: mark, line: start.line, column: start.column)
    }

    /// A key at `i` followed by ": " (or ":" at the end of the line), consuming
    /// both; nil, with nothing consumed, when the line does not start with a key.
    private mutating func blockKey() throws(Unsupported) -> Node? {
        let start = i
        let key: Node
        switch at(i) {
        case Self.doubleQuote, Self.singleQuote:
            key = try quoted()
            while at(i) == Self.space { i += 1 }
        default:
            guard let end = plainKeyEnd() else { return nil }
            key = plainKey(start, end)
        }
        guard at(i) == Self.colon && isBlankOrEnd(i + 1) else {
            i = start
            return nil
        }
        if i - start > Self.maxKeyLength { throw Unsupported() }
        i += 1
        return key
    }

    /// The end of a plain key at `i` when ":" and a blank follow it on the same
    /// line, with `i` left on that ":"; nil otherwise.
    private mutating func plainKeyEnd() -> Int? {
        let start = i
        guard startsPlainScalar(flow: false) else { return nil }
        var end = i
        while true {
            let run = i
            skipOrdinary()
            if i > run { end = i }
            let c = at(i)
            if c == Self.colon {
                if isBlankOrEnd(i + 1) { return end }
                i += 1
                end = i
                continue
            }
            guard c == Self.space else { break }  // a line break, a tab or the end
            while at(i) == Self.space { i += 1 }
            let next = at(i)
            if next == Self.hash || next == Self.newline || next == Self.tab || next == 0 { break }
        }
        i = start
        return nil
    }

    /// Past characters that cannot end a plain scalar in block context: all
    /// but space, tab, line break and ":" (and "#", which counts only after a space).
    @inline(__always) private mutating func skipOrdinary() {
        let n = bytes.count
        // Eight at a time while no byte is at most a space, nor a ":".
        let raw = UnsafeRawBufferPointer(bytes)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let colon = w ^ (UInt64(Self.colon) &* ones)
            // Some byte below 0x21 (the classic "has less than" test: exact about whether there is one), or some ":".
            if (w &- 0x21 &* ones) & ~w & highs != 0 || (colon &- ones) & ~colon & highs != 0 { break }
            i += 8
        }
        while i < n {
            let c = bytes[i]
            guard c > Self.space && c != Self.colon else { return }
            i += 1
        }
    }

    @inline(__always) private func startsPlainScalar(flow: Bool) -> Bool {
        let c = at(i)
        if c == Self.dash {
            // "-x" is a scalar, "- " an entry; in flow context keep to the unambiguous "-1", "-a".
            let next = at(i + 1)
            return flow ? (next >= 0x30 && next <= 0x39 || next >= 0x41 && next <= 0x5A || next >= 0x61 && next <= 0x7A)
                        : !(next == Self.space || next == Self.tab || next == Self.newline || next == 0)
        }
        return !(c == Self.space || c == Self.newline || c == 0 || c == Self.tab || Self.isIndicator(c))
    }

    /// The value after "key:" or "-": on the same line, or the collection on the
    /// following lines, or an empty (null) scalar at `empty` — where libyaml
    /// puts it: just after the indicator.
    private mutating func blockValue(parentIndent: Int, empty: Position,
                                     indentlessSequence: Bool) throws(Unsupported) -> Node {
        while at(i) == Self.space { i += 1 }
        let c = at(i)
        if c == Self.newline || c == 0 || c == Self.hash {
            skipToLineEnd()
            try skipToContent()
            if !atEnd && !atDocumentMarker {
                if indent > parentIndent { return try blockNode(parentIndent: parentIndent) }
                if indentlessSequence && indent == parentIndent && isEntry { return try blockSequence(indentless: true) }
            }
            return emptyScalar(at: empty)
        }
        let node: Node
        switch c {
        case Self.doubleQuote, Self.singleQuote:
            node = try quoted()
            try finishLine()
        case Self.openBrace, Self.openBracket:
            node = try flowCollection()
            try finishLine()
        case Self.pipe:
            node = try literal(parentIndent: parentIndent)
        default:
            guard startsPlainScalar(flow: false) else { throw Unsupported() }
            node = try blockPlainValue()
            try finishLine()
        }
        try skipToContent()
        // A deeper line would continue a plain scalar, or be an error after any other value.
        if !atEnd && !atDocumentMarker && indent > parentIndent { throw Unsupported() }
        return node
    }

    /// A plain scalar value in block context, on one line.
    private mutating func blockPlainValue() throws(Unsupported) -> Node {
        let start = i
        var end = i
        while true {
            let run = i
            skipOrdinary()
            if i > run { end = i }
            let c = at(i)
            if c == Self.colon {
                // "a: b: c" is an error.
                if isBlankOrEnd(i + 1) { throw Unsupported() }
                i += 1
                end = i
                continue
            }
            if c == Self.newline || c == 0 { break }
            // A tab joins words in ways not worth copying.
            guard c == Self.space else { throw Unsupported() }
            while at(i) == Self.space { i += 1 }
            let next = at(i)
            if next == Self.hash || next == Self.newline || next == 0 { break }
            if next == Self.tab { throw Unsupported() }
        }
        return scalar(start, end, .plain, at: start)
    }

    // MARK: Literal block scalars

    /// A `|` block (with `-` or `+` chomping, no explicit indentation), the way
    /// libyaml's scanner reads it; leaves `i` at the start of the first line after it.
    private mutating func literal(parentIndent: Int) throws(Unsupported) -> Node {
        let start = position(i)
        i += 1
        var chomping = 0  // -1 strip, 0 clip, +1 keep
        if at(i) == Self.dash || at(i) == UInt8(ascii: "+") {
            chomping = at(i) == Self.dash ? -1 : 1
            i += 1
        }
        while at(i) == Self.space { i += 1 }
        if at(i) == Self.hash { while !atEnd && bytes[i] != Self.newline { i += 1 } }
        guard at(i) == Self.newline else { throw Unsupported() }  // explicit indentation, or nothing after "|"
        i += 1
        newLine()

        // Leading empty lines, then the first content line, whose indentation is the block's.
        var leadingBreaks = 0
        var maxIndent = 0
        var spaces = 0
        while true {
            spaces = 0
            while at(i + spaces) == Self.space { spaces += 1 }
            maxIndent = max(maxIndent, spaces)
            let c = at(i + spaces)
            guard c != Self.tab, c != 0 else { throw Unsupported() }
            guard c == Self.newline else { break }
            leadingBreaks += 1
            i += spaces + 1
            newLine()
        }
        let blockIndent = max(maxIndent, parentIndent + 1, 1)
        // A first line less indented than the block (or than a blank line before it) leaves the block empty.
        guard spaces == blockIndent else { throw Unsupported() }

        var out = [UInt8](repeating: Self.newline, count: leadingBreaks)
        var lineBreak = false
        var trailingBreaks = 0
        content: while true {
            // At a content line; its indentation is part of the block's, the rest is text.
            i += blockIndent
            let contentStart = i
            while i < bytes.count && bytes[i] != Self.newline { i += 1 }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[contentStart..<i]))
            guard i < bytes.count else {
                lineBreak = false
                trailingBreaks = 0
                break
            }
            i += 1
            newLine()
            lineBreak = true
            trailingBreaks = 0
            // Empty lines (no more than the block's indentation), then the next content line or the end.
            while true {
                var n = 0
                while n < blockIndent && at(i + n) == Self.space { n += 1 }
                let c = at(i + n)
                if c == Self.newline {
                    trailingBreaks += 1
                    i += n + 1
                    newLine()
                    continue
                }
                if c == 0 {
                    guard n == 0 else { throw Unsupported() }  // spaces at the very end: an edge, for the reference reading
                    break content
                }
                if n < blockIndent {
                    if c == Self.tab { throw Unsupported() }
                    break content
                }
                // A content line follows: the breaks before it are text.
                out.append(Self.newline)
                out.append(contentsOf: repeatElement(Self.newline, count: trailingBreaks))
                continue content
            }
        }
        if chomping != -1 && lineBreak { out.append(Self.newline) }
        if chomping == 1 { out.append(contentsOf: repeatElement(Self.newline, count: trailingBreaks)) }
        // libyaml marks a block scalar as implicitly a string, which the reference reading keeps as its tag.
        return builder.scalar(text: String(decoding: out, as: UTF8.self), style: .literal, tag: .str,
                              line: start.line, column: start.column)
    }

    // MARK: Quoted scalars

    /// A single- or double-quoted scalar on one line; `i` is left after the closing quote.
    private mutating func quoted() throws(Unsupported) -> Node {
        let start = i
        let quote = bytes[i]
        i += 1
        let contentStart = i
        // The common case: no escapes, so the text is a slice of the input.
        let n = bytes.count
        let raw = UnsafeRawBufferPointer(bytes)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        /// Whether some byte of `x` is zero.
        func anyZero(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        while true {
            // Eight bytes at a time while none is the quote, a backslash or a line break.
            while i + 8 <= n {
                let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if anyZero(w ^ (UInt64(quote) &* ones)) || anyZero(w ^ (0x5C &* ones)) || anyZero(w ^ (0x0A &* ones)) { break }
                i += 8
            }
            while i < n {
                let c = bytes[i]
                if c == quote || c == Self.backslash || c == Self.newline { break }
                i += 1
            }
            let c = at(i)
            if c == quote {
                if quote == Self.singleQuote && at(i + 1) == Self.singleQuote { break }
                let node = scalar(contentStart, i, .quoted, at: start)
                i += 1
                return node
            }
            if c == Self.backslash {
                if quote == Self.doubleQuote { break }
                i += 1
                continue
            }
            throw Unsupported()  // a line break (libyaml folds multi-line scalars) or the end
        }
        var out = Array(UnsafeBufferPointer(rebasing: bytes[contentStart..<i]))
        while true {
            let c = at(i)
            if c == Self.newline || c == 0 { throw Unsupported() }
            if c == quote {
                if quote == Self.singleQuote && at(i + 1) == Self.singleQuote {
                    out.append(Self.singleQuote)
                    i += 2
                    continue
                }
                i += 1
                let p = position(start)
                return builder.scalar(text: String(decoding: out, as: UTF8.self), style: .quoted, tag: .none,
                                      line: p.line, column: p.column)
            }
            if c == Self.backslash && quote == Self.doubleQuote {
                try escape(into: &out)
                continue
            }
            out.append(c)
            i += 1
        }
    }

    /// One escape sequence of a double-quoted scalar (YAML 1.1 as libyaml reads it), at `i`.
    private mutating func escape(into out: inout [UInt8]) throws(Unsupported) {
        let c = at(i + 1)
        i += 2
        let simple: UInt8? = switch c {
        case UInt8(ascii: "0"): 0
        case UInt8(ascii: "a"): 0x07
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "t"), Self.tab: 0x09
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "v"): 0x0B
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "e"): 0x1B
        case Self.space, Self.doubleQuote, UInt8(ascii: "/"), Self.backslash: c
        default: nil
        }
        if let simple {
            out.append(simple)
            return
        }
        let digits = switch c {
        case UInt8(ascii: "x"): 2
        case UInt8(ascii: "u"): 4
        case UInt8(ascii: "U"): 8
        default: 0  // \N, \_, \L, \P, a line continuation, or an error: the reference reading
        }
        guard digits > 0 else { throw Unsupported() }
        var value: UInt32 = 0
        for _ in 0..<digits {
            let d = at(i)
            let v: UInt8 = switch d {
            case 0x30...0x39: d - 0x30
            case 0x41...0x46: d - 0x41 + 10
            case 0x61...0x66: d - 0x61 + 10
            default: throw Unsupported()
            }
            value = value << 4 | UInt32(v)
            i += 1
        }
        // Surrogates are errors for libyaml; the reference reading drops a leading U+FEFF from a scalar's text.
        guard value != 0xFEFF, let scalar = Unicode.Scalar(value) else { throw Unsupported() }
        out.append(contentsOf: UTF8.encode(scalar)!)
    }

    // MARK: Flow collections

    /// In flow context: spaces, tabs, line breaks and comments.
    private mutating func skipFlowSpace() throws(Unsupported) {
        while true {
            switch at(i) {
            case Self.space:
                skipSpaces()
            case Self.tab:
                i += 1
            case Self.newline:
                i += 1
                newLine()
                // A document marker inside a flow collection is an error.
                if atDocumentMarker { throw Unsupported() }
            case Self.hash:
                while !atEnd && bytes[i] != Self.newline { i += 1 }
            default:
                return
            }
        }
    }

    /// `{...}` or `[...]` at `i`, over as many lines as it takes; `i` is left after it.
    private mutating func flowCollection() throws(Unsupported) -> Node {
        try enter()
        defer { depth -= 1 }
        let start = position(i)
        let isMapping = bytes[i] == Self.openBrace
        let close = isMapping ? Self.closeBrace : Self.closeBracket
        i += 1
        try skipFlowSpace()
        let kind: YAMLTree.Kind = isMapping ? .mapping : .sequence
        let mark = builder.mark
        if at(i) == close {
            i += 1
            return builder.collection(kind, from: mark, line: start.line, column: start.column)
        }
        while true {
            if isMapping {
                let keyStart = i, keyLine = line
                let key: Node = switch at(i) {
                case Self.doubleQuote, Self.singleQuote: try quoted()
                default: try flowPlain(isKey: true)
                }
                // The ":" must follow on the key's line (libyaml's simple key), and a value must follow it.
                while at(i) == Self.space || at(i) == Self.tab { i += 1 }
                guard line == keyLine, at(i) == Self.colon, i - keyStart <= Self.maxKeyLength else { throw Unsupported() }
                i += 1
                try skipFlowSpace()
                let c = at(i)
                guard c != Self.comma, c != Self.closeBrace else { throw Unsupported() }
                try addPair(key, try flowNode(), from: mark)
            } else {
                builder.addChild(try flowNode())
            }
            try skipFlowSpace()
            switch at(i) {
            case Self.comma:
                i += 1
                try skipFlowSpace()
                // A trailing comma is valid YAML, but rare enough to leave to the reference reading.
                if at(i) == close { throw Unsupported() }
            case close:
                i += 1
                return builder.collection(kind, from: mark, line: start.line, column: start.column)
            default:
                // "[a: 1]" (a one-pair mapping), or an error.
                throw Unsupported()
            }
        }
    }

    private mutating func flowNode() throws(Unsupported) -> Node {
        switch at(i) {
        case Self.openBrace, Self.openBracket: try flowCollection()
        case Self.doubleQuote, Self.singleQuote: try quoted()
        default: try flowPlain(isKey: false)
        }
    }

    /// A plain scalar in flow context on one line: up to ",", a bracket, ": " or " #".
    private mutating func flowPlain(isKey: Bool) throws(Unsupported) -> Node {
        guard startsPlainScalar(flow: true) else { throw Unsupported() }
        let start = i
        var end = i
        while true {
            let c = at(i)
            if c == Self.space || c == Self.tab {
                var sawTab = false
                while at(i) == Self.space || at(i) == Self.tab {
                    sawTab = sawTab || at(i) == Self.tab
                    i += 1
                }
                let next = at(i)
                if next == Self.hash || next == Self.newline || next == 0 || Self.isFlowIndicator(next)
                    || next == Self.colon && isBlankOrEnd(i + 1) { break }
                // Words joined by a tab, or a ":" libyaml reads in its own way.
                if sawTab || next == Self.colon { throw Unsupported() }
                continue
            }
            if c == Self.newline || c == 0 || Self.isFlowIndicator(c) { break }
            if c == Self.colon {
                let next = at(i + 1)
                if isBlankOrEnd(i + 1) { break }
                if Self.isFlowIndicator(next) || next == UInt8(ascii: "?") { throw Unsupported() }
            }
            i += 1
            end = i
        }
        return isKey ? plainKey(start, end) : scalar(start, end, .plain, at: start)
    }
}
