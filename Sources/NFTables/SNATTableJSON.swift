import BallastCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

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
        let root = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        guard case .object(let top) = root, case .array(let entries)? = top["nftables"] else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no top-level \"nftables\" array"))
        }
        return entries.map { entry in
            if case .object(let o) = entry { return o }
            return [:]
        }
    }
}

/// Any JSON value; nftables' schema is too polymorphic for fixed Decodable structs.
enum JSONValue: Decodable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}
