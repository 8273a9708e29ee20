import BallastCore

/// A node being decoded, with its path for messages (`pools[0].addresses[1]`)
/// and the sink that collects findings. Every accessor returns nil after
/// reporting why, so decoders read like a description of the schema and keep
/// going after an error.
struct Value {
    let node: YAMLNode
    private let pathStart: PathStart
    let sink: DiagnosticSink

    /// The text of a path is only needed for a message, so it is not kept
    /// for each of the many values read: a value inside another is reached
    /// through the tree, which gives back the keys and indexes on the way.
    private enum PathStart {
        /// The path counts from this node of the same tree, whose path is `path`.
        case node(Int32, path: String)
        /// The path, spelled out (for a node made in code, outside the tree).
        case spelled(String)
    }

    init(node: YAMLNode, path: String, sink: DiagnosticSink) {
        self.init(node: node, pathStart: .node(node.id, path: path), sink: sink)
    }

    private init(node: YAMLNode, pathStart: PathStart, sink: DiagnosticSink) {
        self.node = node
        self.pathStart = pathStart
        self.sink = sink
    }

    var path: String {
        switch pathStart {
        case .node(let start, let path): node.steps(from: start).reduce(path, Self.append)
        case .spelled(let path): path
        }
    }

    var location: SourceLocation { node.location }
    var isNull: Bool { node.isNull }

    /// `pools[0].addresses[1]`: a key after a non-empty path follows a dot, an index its brackets.
    private static func append(_ path: String, _ step: YAMLNode.Step) -> String {
        switch step {
        case .key(let key): path.isEmpty ? key : "\(path).\(key)"
        case .index(let index): "\(path)[\(index)]"
        }
    }

    /// `node`, an item of this list or a value of this mapping.
    fileprivate func inner(_ node: YAMLNode, _ step: YAMLNode.Step) -> Value {
        switch pathStart {
        case .node: Value(node: node, pathStart: pathStart, sink: sink)
        case .spelled(let path): Value(node: node, pathStart: .spelled(Self.append(path, step)), sink: sink)
        }
    }

    /// `node` as the value under `key` here, wherever it comes from.
    func child(_ key: String, _ node: YAMLNode) -> Value {
        Value(node: node, pathStart: .spelled(Self.append(path, .key(key))), sink: sink)
    }

    // MARK: Findings

    private func prefixed(_ message: String) -> String {
        let path = path
        return path.isEmpty ? message : "\(path): \(message)"
    }

    func error(_ message: String, hint: String? = nil) {
        sink.error(prefixed(message), at: location, hint: hint)
    }

    func warning(_ message: String, hint: String? = nil) {
        sink.warning(prefixed(message), at: location, hint: hint)
    }

    func note(_ message: String, hint: String? = nil) {
        sink.note(prefixed(message), at: location, hint: hint)
    }

    func mismatch(expected: String, hint: String? = nil) {
        error("expected \(expected), found \(node.kindDescription)", hint: hint)
    }

    // MARK: Scalars

    /// Any scalar but null, as written: `nodeName: 1234` is the string "1234".
    func string() -> String? {
        guard let text = node.text, !isNull else {
            mismatch(expected: "a string")
            return nil
        }
        return text
    }

    /// A non-empty string.
    func name() -> String? {
        guard let s = string() else { return nil }
        if s.isEmpty { error("must not be empty") }
        return s.isEmpty ? nil : s
    }

    /// `body` applied to what `string()` reads, as UTF-8 bytes, without making a String.
    func withStringBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard !isNull, let result = node.withScalarBytes(body) else {
            mismatch(expected: "a string")
            return nil
        }
        return result
    }

    /// `body` applied to what `name()` reads, as UTF-8 bytes, without making a String.
    func withNameBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        guard let result = withStringBytes({ $0.isEmpty ? nil : body($0) }) else { return nil }
        if result == nil { error("must not be empty") }
        return result
    }

    /// `true` or `false` (YAML 1.2: `yes`, `no`, `on` and `off` are strings).
    func bool() -> Bool? {
        // The common spellings first, without making a String: hundreds of
        // thousands of endpoint conditions are read at start-up.
        if node.isPlainScalar {
            if node.isScalar("true") { return true }
            if node.isScalar("false") { return false }
        }
        if let s = node.scalar, s.isPlain || s.tag == "tag:yaml.org,2002:bool" {
            switch s.text {
            case "true", "True", "TRUE": return true
            case "false", "False", "FALSE": return false
            default: break
            }
        }
        let text = node.scalar?.text.lowercased()
        mismatch(expected: "true or false",
                 hint: ["yes", "no", "on", "off", "y", "n"].contains(text) ? "write true or false" :
                       node.scalar?.isPlain == false ? "remove the quotes" : nil)
        return nil
    }

    /// A decimal integer, optionally within `range`.
    func int(in range: ClosedRange<Int>? = nil) -> Int? {
        guard let s = node.scalar, s.isPlain || s.tag == "tag:yaml.org,2002:int", let n = Int(s.text) else {
            let quotedNumber = node.scalar.map { !$0.isPlain && Int($0.text) != nil } ?? false
            mismatch(expected: "an integer", hint: quotedNumber ? "remove the quotes" : nil)
            return nil
        }
        if let range, !range.contains(n) {
            error("\(n) is out of range \(range.lowerBound)-\(range.upperBound)")
            return nil
        }
        return n
    }

    /// One of a fixed set of words, compared exactly (Kubernetes enums are case-sensitive).
    func choice<T>(_ table: [(String, T)]) -> T? {
        guard let s = string() else { return nil }
        if let match = table.first(where: { $0.0 == s }) { return match.1 }
        error("\"\(s)\" is not valid", hint: Suggestion.hint(for: s, in: table.map(\.0), noun: "valid values"))
        return nil
    }

    /// A raw-value enum written with its raw values.
    func choice<E: RawRepresentable & CaseIterable>(_: E.Type) -> E? where E.RawValue == String {
        choice(E.allCases.map { ($0.rawValue, $0) })
    }

    // MARK: Collections

    /// A list; null is an empty list, as in Kubernetes (`ports: null`).
    func list() -> [Value]? {
        guard let count = listCount() else { return nil }
        return (0..<count).map { inner(node.item($0), .index($0)) }
    }

    /// A list whose elements all decode; nil (after reporting each bad element) otherwise.
    func list<T>(_ decode: (Value) -> T?) -> [T]? {
        guard let count = listCount() else { return nil }
        var decoded: [T] = []
        decoded.reserveCapacity(count)
        var complete = true
        for index in 0..<count {
            if let value = decode(inner(node.item(index), .index(index))) {
                decoded.append(value)
            } else {
                complete = false
            }
        }
        return complete ? decoded : nil
    }

    /// The number of items of a list (0 for null); nil, reported, for anything else.
    private func listCount() -> Int? {
        if node.kind == .sequence { return node.count }
        if isNull { return 0 }
        mismatch(expected: "a list", hint: node.text.map { "write it as a list: [\($0)]" })
        return nil
    }

    func stringList() -> [String]? { list { $0.string() } }

    /// A mapping of strings to strings (labels, annotations, selectors).
    func stringMap() -> [String: String]? { stringMap(keepingKeys: { _ in true }) }

    /// A mapping of strings to strings, with only the entries whose key (as
    /// UTF-8 bytes) passes `keep`: the others are not read, and no String is
    /// made of them.
    func stringMap(keepingKeys keep: (UnsafeBufferPointer<UInt8>) -> Bool) -> [String: String]? {
        guard mapping() != nil else { return nil }
        var result: [String: String] = [:]
        var ok = true
        for n in 0..<node.count where node.hasStringKey(n) {
            let keyNode = node.key(n)
            guard keyNode.withScalarBytes(keep) == true, let key = keyNode.text else { continue }
            if let v = inner(node.value(n), .key(key)).string() { result[key] = v } else { ok = false }
        }
        return ok ? result : nil
    }

    /// A mapping. `keys` lists the keys it may hold, and `unknownKeys` says
    /// what an unknown key is: an error for Ballast's own file, a warning for
    /// MetalLB resources (the API server prunes unknown fields silently, so a
    /// typo there would go unnoticed in MetalLB too), nothing for Kubernetes
    /// objects (they carry managedFields, status and much more we do not use).
    func mapping(keys: [String] = [], unknownKeys: MappingReader.UnknownKeys = .ignore) -> MappingReader? {
        guard node.kind == .mapping || isNull else {
            mismatch(expected: "a mapping of keys to values")
            return nil
        }
        return MappingReader(self, keys: keys, unknownKeys: unknownKeys)
    }
}

/// Keyed access to a mapping. Unknown keys are reported when the reader is made.
struct MappingReader {
    enum UnknownKeys { case error, warning, ignore }

    let value: Value
    /// Pairs of the mapping (none for null); keys that are not strings were
    /// reported and are skipped by every lookup.
    private let count: Int

    fileprivate init(_ value: Value, keys: [String], unknownKeys: UnknownKeys) {
        self.value = value
        let node = value.node
        count = node.count
        // Nothing to report: FastYAML's keys are all strings, and unknown ones are ignored here.
        if unknownKeys == .ignore && node.tree.keysAreStrings { return }
        for n in 0..<count {
            guard node.hasStringKey(n) else {
                let key = node.key(n)
                let prefix = value.path.isEmpty ? "" : "\(value.path): "
                value.sink.error("\(prefix)keys must be strings, found \(key.kindDescription)", at: key.location)
                continue
            }
            guard unknownKeys != .ignore else { continue }
            let keyNode = node.key(n)
            guard let key = keyNode.text, !keys.contains(key) else { continue }
            let message = "\(value.path.isEmpty ? "" : "\(value.path): ")unknown key \"\(key)\""
            let hint = Suggestion.hint(for: key, in: keys, noun: "keys allowed here")
            if unknownKeys == .error {
                value.sink.error(message, at: keyNode.location, hint: hint)
            } else {
                value.sink.warning(message + " (ignored)", at: keyNode.location, hint: hint)
            }
        }
    }

    var location: SourceLocation { value.location }

    /// The keys that are strings, in order.
    var keys: [String] { (0..<count).compactMap { value.node.hasStringKey($0) ? value.node.key($0).text : nil } }

    /// Every entry in order, as values.
    var entries: [(key: String, value: Value)] {
        let node = value.node
        return (0..<count).compactMap { n in
            guard node.hasStringKey(n), let key = node.key(n).text else { return nil }
            return (key, value.inner(node.value(n), .key(key)))
        }
    }

    /// The value under `key`, even when it is null; nil when the key is absent.
    func raw(_ key: String) -> Value? {
        guard let n = value.node.pairIndex(ofKey: key) else { return nil }
        return value.inner(value.node.value(n), .key(key))
    }

    /// The value under `key`; nil when absent or null (Kubernetes treats both as "not set").
    subscript(key: String) -> Value? {
        guard let v = raw(key), !v.isNull else { return nil }
        return v
    }

    /// Like the subscript, but a missing value is an error.
    func required(_ key: String, hint: String? = nil) -> Value? {
        if let v = self[key] { return v }
        let message = raw(key) == nil ? "missing required key \"\(key)\"" : "\"\(key)\" must not be null"
        value.error(message, hint: hint)
        return nil
    }
}

extension MappingReader {
    /// The mapping under `key`, empty when the key is absent or null; nil
    /// (reported) when it holds something else.
    func section(_ key: String, keys: [String] = [], unknownKeys: UnknownKeys = .ignore) -> MappingReader? {
        (raw(key) ?? value.child(key, .empty(at: location))).mapping(keys: keys, unknownKeys: unknownKeys)
    }
}

extension YAMLNode {
    /// An empty mapping, for an optional section left out of a file.
    static func empty(at location: SourceLocation) -> YAMLNode {
        YAMLNode(content: .mapping([]), location: location)
    }
}

