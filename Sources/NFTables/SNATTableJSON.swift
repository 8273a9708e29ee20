import BallastCore

/// Reads Ballast's SNAT table back from libnftables' JSON output (the
/// documented, stable schema of `nft -j`, libnftables-json(5)) instead of
/// scraping the text form. Pure.
enum SNATTableJSON {
    /// What `nft -j list table inet NAME` printed.
    enum Reading: Equatable {
        /// The table holds exactly the shape `SNATTableText` writes with this
        /// mark, and its digest matches its elements (given here, so that
        /// 100,000 elements are not hashed a second time).
        case table(SNATTable, digest: SNATTableDigest)
        /// The table exists but holds something else (another mark, an edit by
        /// hand, elements that do not match the digest written with them, the
        /// layouts of Ballast before named sets or before the digest): it must
        /// be rewritten.
        case unrecognized(String)
    }

    /// What a terse listing (`nft -t -j list ruleset inet`: every inet table,
    /// sets without their elements) says of Ballast's table.
    enum Shape: Equatable {
        case absent
        /// The table without sets and chains: what Ballast writes for no elements.
        case empty
        /// Ballast's sets (the digest set among them), chains and rules for this mark.
        case sets
        case unrecognized(String)
    }

    /// The shape of table `inet table` in a terse listing; other tables are
    /// skipped (libnftables lists only whole rulesets without set elements:
    /// `list table` fetches every element into its cache even when terse).
    static func shape(_ json: String, table: String, mark: UInt32) throws -> Shape {
        switch layout(try objects(json), table: table, mark: mark) {
        case .failure(let unrecognized):
            return .unrecognized(unrecognized.what)
        case .success(let layout):
            guard layout.tableListed else { return .absent }
            return layout.sets.isEmpty ? .empty : .sets
        }
    }

    /// The digest held by the digest set in `nft -j list set inet NAME digest`:
    /// nil unless the set holds exactly one element of four 32-bit words.
    static func digest(_ json: String) throws -> SNATTableDigest? {
        let sets = try objects(json).compactMap { object -> [String: JSONValue]? in
            guard case .object(let set)? = object["set"] else { return nil }
            return set
        }
        guard sets.count == 1, sets[0]["name"] == .string(SNATTableText.digestSet),
              case .array(let elements)? = sets[0]["elem"] else { return nil }
        return digest(elements)
    }

    static func read(_ json: String, table: String, mark: UInt32) throws -> Reading {
        let layout: Layout
        switch Self.layout(try objects(json), table: table, mark: mark) {
        case .failure(let unrecognized): return .unrecognized(unrecognized.what)
        case .success(let l): layout = l
        }
        if layout.sets.isEmpty { return .table(SNATTable(), digest: SNATTableDigest(SNATTable())) }
        var marks: [SNATMatch] = []
        var masquerades: [SNATPair] = []
        for (set, elements) in layout.sets {
            guard let set = SNATTableText.SetName(rawValue: set) else { continue }
            for element in elements {
                guard case .object(let o) = element, o.count == 1, case .array(let values)? = o["concat"] else {
                    return .unrecognized("an element of set \(set.rawValue) with options or of another shape")
                }
                if set.isMark {
                    guard values.count == 3, case .string(let text) = values[0], let vip = IPAddress(text),
                          vip.family == set.family, let proto = transportProtocol(values[1]),
                          let port = portNumber(values[2]) else {
                        return .unrecognized("an element of set \(set.rawValue) that is not VIP . protocol . port")
                    }
                    marks.append(SNATMatch(address: vip, protocol: proto, port: port))
                } else {
                    guard values.count == 2, case .string(let vipText) = values[0], let vip = IPAddress(vipText),
                          case .string(let destinationText) = values[1], let destination = IPAddress(destinationText),
                          vip.family == set.family, destination.family == set.family else {
                        return .unrecognized("an element of set \(set.rawValue) that is not VIP . destination")
                    }
                    masquerades.append(SNATPair(address: vip, destination: destination))
                }
            }
        }
        let contents = SNATTable(marks: SNATElements(marks), masquerades: SNATElements(masquerades))
        // No elements means no chains (`SNATTableText`): chains hooked to
        // empty sets are not what Ballast would write.
        guard !contents.isEmpty else { return .unrecognized("chains and sets without elements") }
        // Elements added or deleted by hand, or an update whose elements
        // before the change were unknown (it empties the digest set).
        guard let digest = digest(layout.sets[SNATTableText.digestSet] ?? []), digest == SNATTableDigest(contents) else {
            return .unrecognized("elements that do not match the digest written with them")
        }
        return .table(contents, digest: digest)
    }

    // MARK: - Layout

    /// The table's sets (name → elements, none in a terse listing), checked
    /// for being exactly what `SNATTableText` writes apart from the elements.
    private struct Layout {
        var tableListed = false
        var sets: [String: [JSONValue]] = [:]
    }

    private struct Unrecognized: Error {
        var what: String
        init(_ what: String) { self.what = what }
    }

    private static func layout(_ objects: [[String: JSONValue]], table: String, mark: UInt32) -> Result<Layout, Unrecognized> {
        var layout = Layout()
        var chains: [String: [String: JSONValue]] = [:]
        var rules: [String: Set<AddressFamily>] = [:]
        let family = JSONValue.string("inet")
        for object in objects {
            guard let (kind, value) = object.first, object.count == 1, case .object(let body) = value else {
                return .failure(Unrecognized("an entry that is not a single named object"))
            }
            if kind == "metainfo" { continue }
            if kind == "table" {
                if body["family"] == family && body["name"] == .string(table) { layout.tableListed = true }
                continue
            }
            // A whole ruleset lists other tables' objects too; an object that
            // names no table is not skipped, so it cannot pass for nothing.
            if let other = body["table"], other != .string(table) { continue }
            if let other = body["family"], other != family { continue }
            switch kind {
            case "set":
                guard case .string(let name)? = body["name"], layout.sets[name] == nil else {
                    return .failure(Unrecognized("a set without a name or listed twice"))
                }
                let type: [String]
                if let set = SNATTableText.SetName(rawValue: name) {
                    type = set.type
                } else if name == SNATTableText.digestSet {
                    type = SNATTableText.digestType
                } else {
                    return .failure(Unrecognized("a set Ballast did not write (\(name))"))
                }
                guard Set(body.keys).isSubset(of: setKeys), body["type"] == .array(type.map { .string($0) }) else {
                    return .failure(Unrecognized("set \(name) of another type or with flags, options or comments"))
                }
                switch body["elem"] {
                case nil: layout.sets[name] = []
                case .array(let elements)?: layout.sets[name] = elements
                default: return .failure(Unrecognized("set \(name) with malformed elements"))
                }
            case "chain":
                guard case .string(let name)? = body["name"] else { return .failure(Unrecognized("a chain without a name")) }
                chains[name] = body
            case "rule":
                guard case .string(let chain)? = body["chain"], case .array(let expressions)? = body["expr"] else {
                    return .failure(Unrecognized("a rule without chain or expressions"))
                }
                let statements = expressions.compactMap { expression -> (String, JSONValue)? in
                    guard case .object(let o) = expression, o.count == 1, let entry = o.first else { return nil }
                    return (entry.key, entry.value)
                }
                guard statements.count == expressions.count, body["comment"] == nil else {
                    return .failure(Unrecognized("a malformed or commented rule in \(chain)"))
                }
                let family: AddressFamily?
                switch chain {
                case SNATTableText.prerouteChain:
                    family = markRule(statements, mark: mark)
                case SNATTableText.postrouteChain:
                    family = masqueradeRule(statements, mark: mark)
                default:
                    return .failure(Unrecognized("a rule in unknown chain \(chain)"))
                }
                guard let family, rules[chain, default: []].insert(family).inserted else {
                    return .failure(Unrecognized("a rule in \(chain) that is not one of Ballast's for mark \(SNATTableText.hex(mark))"))
                }
            default:
                return .failure(Unrecognized("a \(kind) object"))
            }
        }

        if layout.sets.isEmpty && chains.isEmpty && rules.isEmpty { return .success(layout) }
        guard layout.sets.count == SNATTableText.SetName.allCases.count + 1 else {
            return .failure(Unrecognized(layout.sets[SNATTableText.digestSet] == nil
                ? "no digest set (the layout of Ballast before it)" : "a set missing"))
        }
        guard chains.count == 2,
              isBaseChain(chains[SNATTableText.prerouteChain], type: "filter", hook: "prerouting",
                          priority: SNATTableText.markPriority),
              isBaseChain(chains[SNATTableText.postrouteChain], type: "nat", hook: "postrouting",
                          priority: SNATTableText.masqueradePriority) else {
            return .failure(Unrecognized("chains other than the mark and masquerade base chains"))
        }
        guard rules[SNATTableText.prerouteChain]?.count == 2, rules[SNATTableText.postrouteChain]?.count == 2 else {
            return .failure(Unrecognized("a mark or masquerade rule missing"))
        }
        return .success(layout)
    }

    /// The digest in the digest set's elements: exactly one, of four 32-bit words.
    private static func digest(_ elements: [JSONValue]) -> SNATTableDigest? {
        guard elements.count == 1, case .object(let o) = elements[0], o.count == 1,
              case .array(let values)? = o["concat"] else { return nil }
        let words = values.compactMap { value -> UInt32? in
            guard case .number(let n) = value else { return nil }
            return UInt32(exactly: n)
        }
        return words.count == values.count ? SNATTableDigest(words: words) : nil
    }

    /// The members of a set object that Ballast's sets have; anything else
    /// (flags, timeouts, a size, a comment) is an edit.
    private static let setKeys: Set<String> = ["family", "name", "table", "type", "handle", "elem"]

    // MARK: - Rules

    /// `ip daddr . meta l4proto . th dport @mark4 meta mark set meta mark | MARK`
    /// (or ip6 and @mark6); returns the family.
    private static func markRule(_ statements: [(String, JSONValue)], mark: UInt32) -> AddressFamily? {
        for family in AddressFamily.allCases {
            let expected: [(String, JSONValue)] = [
                ("match", .object([
                    "op": .string("=="),
                    "left": .object(["concat": .array([
                        payload(SNATTableText.nftFamily(family), "daddr"), meta("l4proto"), payload("th", "dport"),
                    ])]),
                    "right": .string("@" + SNATTableText.SetName.mark(family).rawValue),
                ])),
                ("mangle", .object([
                    "key": meta("mark"),
                    "value": .object(["|": .array([meta("mark"), .number(Double(mark))])]),
                ])),
            ]
            if statements.elementsEqual(expected, by: { $0.0 == $1.0 && $0.1 == $1.1 }) { return family }
        }
        return nil
    }

    /// `meta mark & MARK == MARK ct original ip daddr . ip daddr @masquerade4 masquerade`
    /// (or ip6 and @masquerade6); returns the family.
    private static func masqueradeRule(_ statements: [(String, JSONValue)], mark: UInt32) -> AddressFamily? {
        for family in AddressFamily.allCases {
            let ip = SNATTableText.nftFamily(family)
            let expected: [(String, JSONValue)] = [
                ("match", .object([
                    "op": .string("=="),
                    "left": .object(["&": .array([meta("mark"), .number(Double(mark))])]),
                    "right": .number(Double(mark)),
                ])),
                ("match", .object([
                    "op": .string("=="),
                    "left": .object(["concat": .array([
                        .object(["ct": .object(["key": .string("\(ip) daddr"), "dir": .string("original")])]),
                        payload(ip, "daddr"),
                    ])]),
                    "right": .string("@" + SNATTableText.SetName.masquerade(family).rawValue),
                ])),
                ("masquerade", .null),
            ]
            if statements.elementsEqual(expected, by: { $0.0 == $1.0 && $0.1 == $1.1 }) { return family }
        }
        return nil
    }

    private static func isBaseChain(_ chain: [String: JSONValue]?, type: String, hook: String, priority: Int) -> Bool {
        guard let chain else { return false }
        return chain["type"] == .string(type) && chain["hook"] == .string(hook)
            && chain["prio"] == .number(Double(priority)) && chain["policy"] == .string("accept")
    }

    private static func meta(_ key: String) -> JSONValue { .object(["meta": .object(["key": .string(key)])]) }

    private static func payload(_ proto: String, _ field: String) -> JSONValue {
        .object(["payload": .object(["protocol": .string(proto), "field": .string(field)])])
    }

    /// nft prints protocols by name unless asked for numbers; accept both.
    private static func transportProtocol(_ value: JSONValue) -> IPVSProtocol? {
        switch value {
        case .string(let name): IPVSProtocol(rawValue: name)
        case .number(let n): UInt16(exactly: n).flatMap(IPVSProtocol.init(number:))
        default: nil
        }
    }

    private static func portNumber(_ value: JSONValue) -> UInt16? {
        guard case .number(let n) = value else { return nil }
        return UInt16(exactly: n)
    }

    /// The entries of the top-level `{"nftables": [...]}` array.
    private static func objects(_ json: String) throws -> [[String: JSONValue]] {
        guard case .object(let top) = try JSONValue(parsing: json), case .array(let entries)? = top["nftables"] else {
            throw JSONSyntaxError(offset: 0, reason: "no top-level \"nftables\" array")
        }
        return entries.map { entry in
            if case .object(let o) = entry { return o }
            return [:]
        }
    }
}

/// Any JSON value; nftables' schema is too polymorphic for fixed Decodable structs.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// RFC 8259 text, read in one pass over its bytes. Not Codable: decoding
    /// "any value" through a single-value container means trying each type in
    /// turn and throwing for every miss, which took 5.4 s of CPU for the
    /// 11 MB listing of a 10,000-rule table; this takes a small fraction of that.
    init(parsing text: String) throws(JSONSyntaxError) {
        var copy = text
        let parsed = copy.withUTF8 { bytes in
            Result { () throws(JSONSyntaxError) -> JSONValue in
                var parser = JSONParser(bytes: bytes)
                let value = try parser.value(depth: 0)
                parser.skipSpace()
                guard parser.offset == bytes.count else { throw parser.error("text after the value") }
                return value
            }
        }
        self = try parsed.get()
    }
}

struct JSONSyntaxError: Error, CustomStringConvertible {
    var offset: Int
    var reason: String

    var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0
    /// nftables nests a handful of levels; the limit keeps hostile input off the stack.
    static let maximumDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: offset, reason: reason) }

    mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maximumDepth else { throw error("nested too deeply") }
        skipSpace()
        guard offset < bytes.count else { throw error("unexpected end") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            offset += 1
            var object: [String: JSONValue] = [:]
            skipSpace()
            if consume(UInt8(ascii: "}")) { return .object(object) }
            repeat {
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipSpace()
                guard consume(UInt8(ascii: ":")) else { throw error("expected ':'") }
                object[key] = try value(depth: depth + 1)
                skipSpace()
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "}")) else { throw error("expected ',' or '}'") }
            return .object(object)
        case UInt8(ascii: "["):
            offset += 1
            var array: [JSONValue] = []
            skipSpace()
            if consume(UInt8(ascii: "]")) { return .array(array) }
            repeat {
                array.append(try value(depth: depth + 1))
                skipSpace()
            } while consume(UInt8(ascii: ","))
            guard consume(UInt8(ascii: "]")) else { throw error("expected ',' or ']'") }
            return .array(array)
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            return .number(try number())
        }
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        guard offset < bytes.count, bytes[offset] == byte else { return false }
        offset += 1
        return true
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard offset + expected.count <= bytes.count, bytes[offset..<offset + expected.count].elementsEqual(expected) else {
            throw error("unknown literal")
        }
        offset += expected.count
    }

    mutating func number() throws(JSONSyntaxError) -> Double {
        let start = offset
        while offset < bytes.count, Self.isNumberByte(bytes[offset]) { offset += 1 }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        guard !text.isEmpty, let number = Double(text), number.isFinite else {
            offset = start
            throw error("expected a value")
        }
        return number
    }

    static func isNumberByte(_ b: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "+")
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
    }

    /// A string starting at the opening quote; escapes decoded, surrogate pairs joined.
    mutating func string() throws(JSONSyntaxError) -> String {
        offset += 1
        var result = ""
        // The start of the bytes since the last escape, copied as they are.
        var plain = offset
        while offset < bytes.count {
            switch bytes[offset] {
            case UInt8(ascii: "\""):
                result += text(plain..<offset)
                offset += 1
                return result
            case UInt8(ascii: "\\"):
                result += text(plain..<offset)
                offset += 1
                try escape(into: &result)
                plain = offset
            case ..<0x20:
                throw error("control character in a string")
            default:
                offset += 1
            }
        }
        throw error("unterminated string")
    }

    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The escape after a backslash.
    mutating func escape(into result: inout String) throws(JSONSyntaxError) {
        guard offset < bytes.count else { throw error("unterminated string") }
        let letter = bytes[offset]
        offset += 1
        switch letter {
        case UInt8(ascii: "\""): result += "\""
        case UInt8(ascii: "\\"): result += "\\"
        case UInt8(ascii: "/"): result += "/"
        case UInt8(ascii: "b"): result += "\u{8}"
        case UInt8(ascii: "f"): result += "\u{c}"
        case UInt8(ascii: "n"): result += "\n"
        case UInt8(ascii: "r"): result += "\r"
        case UInt8(ascii: "t"): result += "\t"
        case UInt8(ascii: "u"):
            var code = try hex4()
            if (0xD800..<0xDC00).contains(code) {
                guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                else { throw error("unpaired surrogate") }
                offset += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(code) else { throw error("unpaired surrogate") }
            result.unicodeScalars.append(scalar)
        default:
            throw error("unknown escape")
        }
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("short \\u escape") }
        var code: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[offset]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("bad \\u escape")
            }
            code = code << 4 | digit
            offset += 1
        }
        return code
    }
}
