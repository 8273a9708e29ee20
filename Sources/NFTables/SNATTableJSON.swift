import BallastCore

/// Reads Ballast's SNAT table back from libnftables' JSON output (the
/// documented, stable schema of `nft -j`, libnftables-json(5)) instead of
/// scraping the text form. Pure.
enum SNATTableJSON {
    /// What `nft -j list table inet NAME` printed.
    enum Reading: Equatable {
        /// The table holds exactly the shape `SNATTableText` writes with this mark.
        case rules([SNATRule])
        /// The table exists but holds something else (another mark, an edit by
        /// hand): it must be rewritten.
        case unrecognized(String)
    }

    /// Whether `nft -j list tables inet` lists a table named `table`.
    static func listsTable(_ json: String, table: String) throws -> Bool {
        try objects(json).contains { object in
            guard case .object(let t)? = object["table"] else { return false }
            return t["family"] == .string("inet") && t["name"] == .string(table)
        }
    }

    static func read(_ json: String, table: String, mark: UInt32) throws -> Reading {
        var chains: [String: [String: JSONValue]] = [:]
        var marked: [SNATKey] = []
        var masqueraded: [SNATRule] = []
        for object in try objects(json) {
            guard let (kind, value) = object.first, object.count == 1, case .object(let body) = value else {
                return .unrecognized("an entry that is not a single named object")
            }
            switch kind {
            case "metainfo", "table":
                continue
            case "chain":
                guard case .string(let name)? = body["name"] else { return .unrecognized("a chain without a name") }
                chains[name] = body
            case "rule":
                guard case .string(let chain)? = body["chain"], case .array(let expressions)? = body["expr"] else {
                    return .unrecognized("a rule without chain or expressions")
                }
                let statements = expressions.compactMap { expression -> (String, JSONValue)? in
                    guard case .object(let o) = expression, o.count == 1, let entry = o.first else { return nil }
                    return (entry.key, entry.value)
                }
                guard statements.count == expressions.count else { return .unrecognized("a malformed rule in \(chain)") }
                switch chain {
                case SNATTableText.prerouteChain:
                    guard let key = markRule(statements, mark: mark) else {
                        return .unrecognized("a rule in \(chain) that is not a mark rule for mark \(hex(mark))")
                    }
                    marked.append(key)
                case SNATTableText.postrouteChain:
                    guard let rule = masqueradeRule(statements, mark: mark) else {
                        return .unrecognized("a rule in \(chain) that is not a masquerade rule for mark \(hex(mark))")
                    }
                    masqueraded.append(rule)
                default:
                    return .unrecognized("a rule in unknown chain \(chain)")
                }
            default:
                return .unrecognized("a \(kind) object")
            }
        }

        if chains.isEmpty { return marked.isEmpty && masqueraded.isEmpty ? .rules([]) : .unrecognized("rules without chains") }
        guard chains.count == 2,
              isBaseChain(chains[SNATTableText.prerouteChain], type: "filter", hook: "prerouting",
                          priority: SNATTableText.markPriority),
              isBaseChain(chains[SNATTableText.postrouteChain], type: "nat", hook: "postrouting",
                          priority: SNATTableText.masqueradePriority) else {
            return .unrecognized("chains other than the mark and masquerade base chains")
        }
        let keys = masqueraded.map(SNATKey.init)
        guard !masqueraded.isEmpty, Set(keys).count == keys.count, Set(marked).count == marked.count,
              Set(marked) == Set(keys) else {
            return .unrecognized("mark rules that do not pair one to one with masquerade rules")
        }
        return .rules(masqueraded.sorted())
    }

    // MARK: - Rules

    /// VIP, port and protocol: what a mark rule matches and what identifies an SNAT rule.
    struct SNATKey: Hashable {
        var address: IPAddress
        var port: UInt16
        var `protocol`: IPVSProtocol

        init(address: IPAddress, port: UInt16, protocol: IPVSProtocol) {
            self.address = address
            self.port = port
            self.protocol = `protocol`
        }

        init(_ rule: SNATRule) {
            self.init(address: rule.address, port: rule.port, protocol: rule.protocol)
        }
    }

    /// `ip daddr VIP tcp dport PORT meta mark set meta mark | MARK`
    private static func markRule(_ statements: [(String, JSONValue)], mark: UInt32) -> SNATKey? {
        guard statements.count == 3,
              let (family, address) = payloadMatch(statements[0], field: "daddr"),
              case .address(let vip) = address, family == nftFamily(vip),
              let (transport, port) = payloadMatch(statements[1], field: "dport"),
              let proto = IPVSProtocol(rawValue: transport), case .port(let portNumber) = port,
              statements[2].0 == "mangle", case .object(let mangle) = statements[2].1,
              mangle["key"] == meta("mark"),
              mangle["value"] == .object(["|": .array([meta("mark"), .number(Double(mark))])]) else { return nil }
        return SNATKey(address: vip, port: portNumber, protocol: proto)
    }

    /// `meta mark & MARK == MARK ct original ip daddr VIP meta l4proto tcp
    /// ct original proto-dst PORT ip daddr { DESTINATIONS } masquerade`
    private static func masqueradeRule(_ statements: [(String, JSONValue)], mark: UInt32) -> SNATRule? {
        guard statements.count == 6,
              let markTest = match(statements[0]),
              markTest.left == .object(["&": .array([meta("mark"), .number(Double(mark))])]),
              markTest.right == .number(Double(mark)),
              let vipMatch = match(statements[1]), case .object(let ct) = vipMatch.left,
              case .object(let ctKey)? = ct["ct"], ctKey["dir"] == .string("original"),
              case .string(let ctField)? = ctKey["key"],
              case .string(let vipText) = vipMatch.right, let vip = IPAddress(vipText),
              ctField == "\(nftFamily(vip)) daddr",
              let protoMatch = match(statements[2]), protoMatch.left == meta("l4proto"),
              let proto = transportProtocol(protoMatch.right),
              let portMatch = match(statements[3]),
              portMatch.left == .object(["ct": .object(["key": .string("proto-dst"), "dir": .string("original")])]),
              let port = portNumber(portMatch.right),
              let (family, destinations) = payloadMatch(statements[4], field: "daddr"), family == nftFamily(vip),
              statements[5].0 == "masquerade", statements[5].1 == .null else { return nil }
        let addresses: [IPAddress]
        switch destinations {
        case .address(let a): addresses = [a]
        case .addresses(let list): addresses = list
        case .port: return nil
        }
        guard addresses.allSatisfy({ $0.family == vip.family }) else { return nil }
        return SNATRule(address: vip, port: port, protocol: proto, destinations: addresses)
    }

    private enum PayloadValue {
        case address(IPAddress)
        case addresses([IPAddress])
        case port(UInt16)
    }

    /// `PROTOCOL FIELD == VALUE` on packet payload, e.g. `ip daddr 192.0.2.10`,
    /// `tcp dport 80` or `ip6 daddr { … }`.
    private static func payloadMatch(_ statement: (String, JSONValue), field: String) -> (String, PayloadValue)? {
        guard let m = match(statement), case .object(let left) = m.left, case .object(let payload)? = left["payload"],
              payload["field"] == .string(field), case .string(let proto)? = payload["protocol"] else { return nil }
        if let port = portNumber(m.right) { return (proto, .port(port)) }
        switch m.right {
        case .string(let text):
            return IPAddress(text).map { (proto, .address($0)) }
        case .object(let set):
            guard set.count == 1, case .array(let elements)? = set["set"] else { return nil }
            var addresses: [IPAddress] = []
            for element in elements {
                guard case .string(let text) = element, let a = IPAddress(text) else { return nil }
                addresses.append(a)
            }
            return (proto, .addresses(addresses))
        default:
            return nil
        }
    }

    private static func match(_ statement: (String, JSONValue)) -> (left: JSONValue, right: JSONValue)? {
        guard statement.0 == "match", case .object(let m) = statement.1, m["op"] == .string("=="),
              let left = m["left"], let right = m["right"] else { return nil }
        return (left, right)
    }

    private static func isBaseChain(_ chain: [String: JSONValue]?, type: String, hook: String, priority: Int) -> Bool {
        guard let chain else { return false }
        return chain["type"] == .string(type) && chain["hook"] == .string(hook)
            && chain["prio"] == .number(Double(priority)) && chain["policy"] == .string("accept")
    }

    private static func meta(_ key: String) -> JSONValue { .object(["meta": .object(["key": .string(key)])]) }

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

    private static func nftFamily(_ address: IPAddress) -> String { address.family == .ipv4 ? "ip" : "ip6" }

    private static func hex(_ value: UInt32) -> String { "0x" + String(value, radix: 16) }

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
