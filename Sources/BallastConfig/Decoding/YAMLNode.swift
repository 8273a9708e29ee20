import BallastCore
import Yams

/// A parsed YAML (or JSON) node with the place it came from.
///
/// A detached copy of Yams' `Node`: immutable and Sendable, and scalars keep
/// their *style* instead of a resolved tag, because the decoders decide what a
/// scalar means from the field it fills. Resolution follows the YAML 1.2 core
/// schema for plain scalars (so `no` and `on` are strings, not booleans);
/// quoted scalars are always strings.
///
/// A class so that handing a node around costs one reference count: decoders
/// pass every node they read through several values.
final class YAMLNode: Sendable {
    struct Scalar: Sendable {
        enum Style: Sendable { case plain, quoted, literal, folded }

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

    let content: Content
    let location: SourceLocation

    init(content: Content, location: SourceLocation) {
        self.content = content
        self.location = location
    }

    static let strTag = "tag:yaml.org,2002:str"
    static let nullTag = "tag:yaml.org,2002:null"

    var scalar: Scalar? {
        if case .scalar(let s) = content { return s }
        return nil
    }

    /// `~`, `null` or nothing at all (YAML 1.2 core schema), or `!!null`.
    var isNull: Bool {
        guard case .scalar(let s) = content else { return false }
        if let tag = s.tag { return tag == YAMLNode.nullTag }
        guard s.style == .plain else { return false }
        switch s.text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// How the node is named in "expected X, found Y" messages.
    var kindDescription: String {
        switch content {
        case .scalar(let s): isNull ? "null" : "\"\(s.text)\""
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

    func location(_ mark: Mark?) -> SourceLocation {
        guard let mark else { return location(line: 1, column: 1) }
        return location(line: mark.line, column: mark.column)
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
        return try parseWithYams(text, origin: origin)
    }

    /// The reference reading, for everything `FastYAML` leaves out (and every error).
    static func parseWithYams(_ text: String, origin: TextOrigin) throws(Diagnostics) -> [YAMLNode] {
        do {
            // The basic resolver: no regular expression runs per scalar, and
            // YAMLNode resolves plain scalars itself (see YAMLNode).
            let parser = try Parser(yaml: text, resolver: .basic)
            var documents: [YAMLNode] = []
            while let root = try parser.nextRoot() {
                let node = convert(root, origin)
                if !node.isNull { documents.append(node) }
            }
            return documents
        } catch let error as YamlError {
            throw Diagnostics([diagnostic(error, origin)])
        } catch {
            throw Diagnostics([Diagnostic(.error, "cannot parse YAML: \(error)", at: origin.location(nil))])
        }
    }

    private static func convert(_ node: Yams.Node, _ origin: TextOrigin) -> YAMLNode {
        let location = origin.location(node.mark)
        switch node {
        case .scalar(let s):
            // Yams gives quoted scalars the str tag, and plain untagged ones an empty tag name.
            let tag = s.tag.rawValue
            let style: YAMLNode.Scalar.Style = switch s.style {
            case .literal: .literal
            case .folded: .folded
            case .singleQuoted, .doubleQuoted: .quoted
            case .plain, .any: .plain
            }
            // Quoted scalars carry the str tag implicitly; only a written tag counts as explicit.
            let explicit = tag.isEmpty || tag == "!" || (style == .quoted && tag == YAMLNode.strTag) ? nil : tag
            return YAMLNode(content: .scalar(.init(text: s.string, style: style, tag: explicit)), location: location)
        case .sequence(let seq):
            return YAMLNode(content: .sequence(seq.map { convert($0, origin) }), location: location)
        case .mapping(let map):
            let pairs = map.map { YAMLNode.Pair(key: convert($0.key, origin), value: convert($0.value, origin)) }
            return YAMLNode(content: .mapping(pairs), location: location)
        case .alias(let alias):
            // The parser resolves aliases to the anchored node itself; an
            // .alias node only exists in trees built in code. Treat it as null.
            return YAMLNode(content: .scalar(.init(text: "", style: .plain, tag: nil)), location: origin.location(alias.mark))
        }
    }

    private static func diagnostic(_ error: YamlError, _ origin: TextOrigin) -> Diagnostic {
        func located(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> Diagnostic {
            let contextText = context.map { " (\($0.text) at line \($0.mark.line + origin.lineOffset))" } ?? ""
            return Diagnostic(.error, "YAML syntax: \(problem)\(contextText)", at: origin.location(mark),
                              hint: problem.contains("tab") ? "indent with spaces; YAML does not allow tabs for indentation"
                                  : nil)
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return located(problem, context, mark)
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return Diagnostic(.error, "key \(keys) appears more than once in one mapping", at: origin.location(context.mark),
                              hint: "keep one of them; YAML mappings cannot repeat a key")
        case let .reader(problem, offset, _, _):
            return Diagnostic(.error, "cannot read the text: \(problem)\(offset.map { " at character \($0)" } ?? "")",
                              at: origin.location(nil), hint: "save the file as UTF-8")
        default:
            return Diagnostic(.error, "cannot parse YAML: \(error)", at: origin.location(nil))
        }
    }
}
