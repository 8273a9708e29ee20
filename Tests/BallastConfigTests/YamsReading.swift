import BallastCore
import Yams
@testable import BallastConfig

/// How BallastConfig read YAML through Yams 6 before it composed libyaml's
/// events itself (`LibYAMLComposer`): the oracle the composer must match,
/// node for node and error for error. Test-only, so ballastd links neither
/// Yams nor the Foundation it imports.
enum YamsReading {
    static func parse(_ text: String, origin: TextOrigin) throws(Diagnostics) -> [YAMLNode] {
        do {
            // The basic resolver: YAMLNode resolves plain scalars itself.
            let parser = try Parser(yaml: text, resolver: .basic)
            var builder = YAMLTreeBuilder()
            var roots: [Int32] = []
            while let root = try parser.nextRoot() {
                roots.append(convert(root, into: &builder))
            }
            let tree = builder.tree(origin: origin)
            return roots.map { YAMLNode(tree: tree, id: $0) }.filter { !$0.isNull }
        } catch let error as YamlError {
            throw Diagnostics([diagnostic(error, origin)])
        } catch {
            throw Diagnostics([Diagnostic(.error, "cannot parse YAML: \(error)", at: origin.location(line: 1, column: 1))])
        }
    }

    private static func convert(_ node: Yams.Node, into builder: inout YAMLTreeBuilder) -> Int32 {
        let line = node.mark?.line ?? 1, column = node.mark?.column ?? 1
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
            let explicit = tag.isEmpty || tag == "!" || (style == .quoted && tag == YAMLNode.strTag) ? nil : tag
            return builder.scalar(text: s.string, style: style, tag: .init(explicit), line: line, column: column)
        case .sequence(let seq):
            let mark = builder.mark
            for item in seq { builder.addChild(convert(item, into: &builder)) }
            return builder.collection(.sequence, from: mark, line: line, column: column)
        case .mapping(let map):
            let mark = builder.mark
            for pair in map {
                builder.addChild(convert(pair.key, into: &builder))
                builder.addChild(convert(pair.value, into: &builder))
            }
            return builder.collection(.mapping, from: mark, line: line, column: column)
        case .alias:
            // Yams' parser resolves aliases to the anchored node; .alias only exists in trees built in code.
            return builder.scalar(text: "", style: .plain, tag: .none, line: line, column: column)
        }
    }

    private static func diagnostic(_ error: YamlError, _ origin: TextOrigin) -> Diagnostic {
        func located(_ problem: String, _ context: YamlError.Context?, _ mark: Mark) -> Diagnostic {
            let contextText = context.map { " (\($0.text) at line \($0.mark.line + origin.lineOffset))" } ?? ""
            return Diagnostic(.error, "YAML syntax: \(problem)\(contextText)",
                              at: origin.location(line: mark.line, column: mark.column),
                              hint: problem.contains("tab") ? "indent with spaces; YAML does not allow tabs for indentation"
                                  : nil)
        }
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _),
             let .composer(context, problem, mark, _):
            return located(problem, context, mark)
        case let .duplicatedKeysInMapping(duplicates, context):
            let keys = duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
            return Diagnostic(.error, "key \(keys) appears more than once in one mapping",
                              at: origin.location(line: context.mark.line, column: context.mark.column),
                              hint: "keep one of them; YAML mappings cannot repeat a key")
        case let .reader(problem, offset, _, _):
            return Diagnostic(.error, "cannot read the text: \(problem)\(offset.map { " at character \($0)" } ?? "")",
                              at: origin.location(line: 1, column: 1), hint: "save the file as UTF-8")
        default:
            return Diagnostic(.error, "cannot parse YAML: \(error)", at: origin.location(line: 1, column: 1))
        }
    }
}
