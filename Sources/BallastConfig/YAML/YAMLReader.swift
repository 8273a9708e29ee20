// Typed reads out of a YAML tree that collect every problem instead of
// stopping at the first, so one run of a validator shows all mistakes in a
// file. Each read returns nil after recording a diagnostic; the caller goes
// on, and `finish` turns the collected diagnostics into one ConfigError.

/// A mapping whose keys were checked against the allowed set.
public struct YAMLMapping {
    public let node: YAMLNode
    private let values: [String: (key: YAMLNode, value: YAMLNode)]

    init(node: YAMLNode, values: [String: (key: YAMLNode, value: YAMLNode)]) {
        self.node = node
        self.values = values
    }

    /// The value under `key`; nil when absent or null (`key:` alone).
    public subscript(key: String) -> YAMLNode? {
        guard let v = values[key]?.value, !v.isNull else { return nil }
        return v
    }

    /// The key node itself, to point at a key that must not be there.
    public func keyNode(_ key: String) -> YAMLNode? { values[key]?.key }

    public func has(_ key: String) -> Bool { self[key] != nil }
}

/// Reads values out of one document and collects diagnostics.
public final class YAMLReader {
    public private(set) var diagnostics: [ConfigDiagnostic] = []

    public init() {}

    public func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(ConfigDiagnostic(message, at: location))
    }

    public func error(_ message: String, at node: YAMLNode) { error(message, at: node.location) }

    /// Throws every diagnostic recorded so far, if any.
    public func finish() throws(ConfigError) {
        if !diagnostics.isEmpty { throw ConfigError(diagnostics) }
    }

    /// Reads a mapping whose keys must be among `keys`; keys in `ignored` are
    /// accepted and skipped. An unknown key is reported with the closest
    /// valid one.
    public func mapping(_ node: YAMLNode, _ what: String, keys: [String],
                        ignored: Set<String> = []) -> YAMLMapping? {
        guard let entries = node.entries else {
            error("\(what) must be \(YAMLNode.Kind.mapping.phrase), found \(describe(node))", at: node)
            return nil
        }
        var values: [String: (key: YAMLNode, value: YAMLNode)] = [:]
        for (key, value) in entries {
            guard let name = key.scalar, key.kind == .scalar else {
                error("keys of \(what) must be plain words, found \(describe(key))", at: key)
                continue
            }
            if ignored.contains(name) { continue }
            guard keys.contains(name) else {
                error("unknown key '\(name)' in \(what)\(Suggestion.hint(for: name, in: keys)) "
                        + "(valid keys: \(keys.joined(separator: ", ")))", at: key)
                continue
            }
            values[name] = (key, value)
        }
        return YAMLMapping(node: node, values: values)
    }

    /// The value under `key`, or a diagnostic naming the missing key.
    public func required(_ mapping: YAMLMapping, _ key: String, of what: String) -> YAMLNode? {
        if let v = mapping[key] { return v }
        error("\(what) has no '\(key)'; add it", at: mapping.node)
        return nil
    }

    /// Reads a list (an absent value is not handled here: use the mapping's subscript).
    public func sequence(_ node: YAMLNode, _ what: String) -> [YAMLNode]? {
        guard let items = node.items else {
            error("\(what) must be \(YAMLNode.Kind.sequence.phrase), found \(describe(node))", at: node)
            return nil
        }
        return items
    }

    public func string(_ node: YAMLNode, _ what: String) -> String? {
        guard node.kind == .scalar, let s = node.scalar, !node.isNull else {
            error("\(what) must be \(YAMLNode.Kind.scalar.phrase), found \(describe(node))", at: node)
            return nil
        }
        return s
    }

    /// A whole number in `range`, written as plain decimal digits (no quotes,
    /// no sign, no 0x or 1_000 forms, which YAML 1.1 would read differently).
    public func integer<T: FixedWidthInteger>(_ node: YAMLNode, _ what: String, in range: ClosedRange<T>) -> T? {
        let expectation = "\(what) must be a whole number from \(range.lowerBound) to \(range.upperBound)"
        guard node.kind == .scalar, let s = node.scalar, !node.isNull else {
            error("\(expectation), found \(describe(node))", at: node)
            return nil
        }
        guard node.isPlainScalar else {
            error("\(expectation) written without quotes, found the string \"\(s)\"", at: node)
            return nil
        }
        guard !s.isEmpty, s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = T(s), range.contains(n) else {
            error("\(expectation), found \(s)", at: node)
            return nil
        }
        return n
    }

    /// One of `choices` (case-sensitive), reported with the valid ones and
    /// the closest match.
    public func choice(_ node: YAMLNode, _ what: String, from choices: [String]) -> String? {
        guard let s = string(node, what) else { return nil }
        guard choices.contains(s) else {
            error("unknown \(what) '\(s)'\(Suggestion.hint(for: s, in: choices)) "
                    + "(valid: \(choices.joined(separator: ", ")))", at: node)
            return nil
        }
        return s
    }

    /// A value of a string enum.
    public func choice<T: RawRepresentable & CaseIterable>(_ node: YAMLNode, _ what: String,
                                                           as type: T.Type = T.self) -> T? where T.RawValue == String {
        choice(node, what, from: T.allCases.map(\.rawValue)).flatMap(T.init(rawValue:))
    }

    /// "a list", "the value 'abc'", "nothing" — for "found …".
    public func describe(_ node: YAMLNode) -> String {
        switch node.kind {
        case .scalar: node.isNull ? "nothing" : "'\(node.scalar ?? "")'"
        case .mapping, .sequence: node.kind.phrase
        }
    }
}
