// A YAML (or JSON, which YAML reads) document whose every node knows its
// line and column. Decoding through Codable loses positions; Yams' Node API
// keeps the marks libyaml records, so each error can point at its node.

import Foundation
import Yams

/// One parsed configuration document.
public struct YAMLDocument {
    /// The file name used in diagnostics.
    public let file: String
    /// The top-level node, or nil when the document is empty.
    public let root: YAMLNode?

    /// Parses `text`. Syntax errors (bad indentation, an unclosed bracket,
    /// duplicate keys) throw with the position libyaml reports.
    public init(text: String, file: String) throws(ConfigError) {
        self.file = file
        do {
            // The basic resolver tags every scalar as a string instead of
            // matching YAML 1.1's regular expressions against each one: this
            // reader interprets scalars itself (so `port: 0x50` and `on` are
            // errors, not surprises), and a 100,000-entry table parses
            // several times faster.
            root = try Yams.compose(yaml: text, .basic).map { YAMLNode($0, file: file) }
        } catch let error as YamlError {
            throw YAMLDocument.diagnose(error, file: file, text: text)
        } catch {
            throw ConfigError("cannot parse: \(error)", at: SourceLocation(file: file))
        }
    }

    /// Reads and parses the file at `path`; diagnostics name it as given.
    public static func load(path: String) throws(ConfigError) -> YAMLDocument {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? error.localizedDescription
            throw ConfigError("cannot read the file: \(reason)", at: SourceLocation(file: path))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("the file is not UTF-8 text", at: SourceLocation(file: path))
        }
        return try YAMLDocument(text: text, file: path)
    }

    /// "JSON" for .json files, else "YAML": the word syntax errors use.
    static func formatName(of file: String) -> String { file.lowercased().hasSuffix(".json") ? "JSON" : "YAML" }

    private static func diagnose(_ error: YamlError, file: String, text: String) -> ConfigError {
        let format = formatName(of: file)
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        func explain(_ context: YamlError.Context?, _ problem: String) -> String {
            guard let context else { return "invalid \(format): \(problem)" }
            return "invalid \(format): \(problem) (\(context.text) at line \(context.mark.line))"
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return ConfigError(explain(context, problem), at: at(mark))
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            return ConfigError("a key is given twice in one mapping: \(keys); keep one of them", at: at(context.mark))
        case let .reader(problem, offset, _, _):
            var location = SourceLocation(file: file)
            if let offset {
                let prefix = text.prefix(offset)
                let lineStart = prefix.lastIndex(of: "\n").map { prefix.index(after: $0) } ?? prefix.startIndex
                location.line = prefix.count(where: { $0 == "\n" }) + 1
                location.column = prefix[lineStart...].count + 1
            }
            return ConfigError("invalid \(format): \(problem)", at: location)
        default:
            return ConfigError("invalid \(format): \(error)", at: SourceLocation(file: file))
        }
    }
}

/// A node of a document with its position.
public struct YAMLNode {
    public enum Kind: Sendable, Hashable {
        case scalar, mapping, sequence

        /// "a single value", "a mapping", "a list": for "expected …, found …".
        public var phrase: String {
            switch self {
            case .scalar: "a single value"
            case .mapping: "a mapping (key: value pairs)"
            case .sequence: "a list"
            }
        }
    }

    let node: Node
    public let location: SourceLocation

    init(_ node: Node, file: String) {
        self.node = node
        location = SourceLocation(file: file, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    public var kind: Kind {
        switch node {
        case .mapping: .mapping
        case .sequence: .sequence
        case .scalar, .alias: .scalar
        }
    }

    /// The text of a scalar, as written (without quotes).
    public var scalar: String? { node.scalar?.string }

    /// A scalar written without quotes: numbers must be plain, so that
    /// `port: "80"` is reported instead of silently accepted.
    public var isPlainScalar: Bool { node.scalar?.style == .plain || node.scalar?.style == .any }

    /// An explicit or implicit null: `key:`, `key: ~`, `key: null`.
    public var isNull: Bool {
        guard let s = node.scalar, isPlainScalar else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }

    /// The entries of a mapping in file order; nil for other kinds.
    public var entries: [(key: YAMLNode, value: YAMLNode)]? {
        guard let mapping = node.mapping else { return nil }
        return mapping.map { (YAMLNode($0.key, file: location.file), YAMLNode($0.value, file: location.file)) }
    }

    /// The items of a list; nil for other kinds.
    public var items: [YAMLNode]? {
        node.sequence.map { $0.map { YAMLNode($0, file: location.file) } }
    }
}
