// `ballastctl ipvs show --json`: the kernel's table in the table-file schema
// (docs/ipvs-table.md), plus read-only `connections` and `stats` keys that
// the file parser accepts and ignores — so the output of show is a valid
// input of apply. Keys are written in a fixed order and services and
// destinations sorted, so the output is stable and diffable.

import BallastCore

public enum IPVSTableJSON {
    /// The whole table, sorted by service key and destination endpoint.
    public static func render(_ table: [ObservedVirtualService]) -> String {
        let services = table.sorted { $0.key < $1.key }.map(service)
        return JSONValue.object([("services", .array(services))]).rendered() + "\n"
    }

    static func service(_ s: ObservedVirtualService) -> JSONValue {
        var fields: [(String, JSONValue)]
        switch s.key {
        case let .address(address, port, proto):
            fields = [("address", .string(address.description)), ("port", .number(UInt64(port))),
                      ("protocol", .string(proto.rawValue))]
        case let .firewallMark(mark, family):
            fields = [("fwmark", .number(UInt64(mark))), ("family", .string(family.rawValue))]
        }
        fields.append(("scheduler", .string(s.scheduler.rawValue)))
        fields.append(("flags", .array(s.flags.names(scheduler: s.scheduler).map(JSONValue.string))))
        if let p = s.persistence, p.timeout > 0 {
            fields.append(("persistence", .object([("timeout", .number(UInt64(p.timeout))),
                                                   ("netmask", .number(UInt64(p.netmaskPrefix)))])))
        }
        fields.append(("stats", stats(s.stats)))
        let destinations = s.destinations.sorted { $0.destination.endpoint < $1.destination.endpoint }
        fields.append(("destinations", .array(destinations.map(destination))))
        return .object(fields)
    }

    static func destination(_ o: ObservedDestination) -> JSONValue {
        let d = o.destination
        return .object([
            ("address", .string(d.address.description)),
            ("port", .number(UInt64(d.port))),
            ("forward", .string(d.forwarding.rawValue)),
            ("weight", .number(UInt64(max(0, d.weight)))),
            ("upperThreshold", .number(UInt64(d.upperThreshold))),
            ("lowerThreshold", .number(UInt64(d.lowerThreshold))),
            ("connections", .object([("active", .number(UInt64(o.activeConnections))),
                                     ("inactive", .number(UInt64(o.inactiveConnections))),
                                     ("persistent", .number(UInt64(o.persistentConnections)))])),
            ("stats", stats(o.stats)),
        ])
    }

    static func stats(_ s: IPVSStats) -> JSONValue {
        .object([
            ("connections", .number(s.connections)),
            ("inPackets", .number(s.inPackets)), ("outPackets", .number(s.outPackets)),
            ("inBytes", .number(s.inBytes)), ("outBytes", .number(s.outBytes)),
            ("cps", .number(s.cps)), ("inPPS", .number(s.inPPS)), ("outPPS", .number(s.outPPS)),
            ("inBPS", .number(s.inBPS)), ("outBPS", .number(s.outBPS)),
        ])
    }
}

/// A JSON value whose objects keep their key order (Foundation's encoders
/// sort keys or scramble them; a documented schema reads best in its own order).
enum JSONValue {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(UInt64)
    case integer(Int64)
    case bool(Bool)
    case null

    /// Pretty-printed with two-space indentation; empty containers stay on one line.
    func rendered() -> String {
        var out = ""
        write(to: &out, indent: 0)
        return out
    }

    private static let indents = (0..<16).map { String(repeating: "  ", count: $0) }

    private static func indent(_ level: Int) -> String {
        level < indents.count ? indents[level] : String(repeating: "  ", count: level)
    }

    private func write(to out: inout String, indent level: Int) {
        switch self {
        case .object(let fields):
            guard !fields.isEmpty else { out += "{}"; return }
            out += "{\n"
            for (i, (key, value)) in fields.enumerated() {
                out += JSONValue.indent(level + 1)
                JSONValue.quote(key, into: &out)
                out += ": "
                value.write(to: &out, indent: level + 1)
                out += i == fields.count - 1 ? "\n" : ",\n"
            }
            out += JSONValue.indent(level)
            out += "}"
        case .array(let items):
            guard !items.isEmpty else { out += "[]"; return }
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += JSONValue.indent(level + 1)
                item.write(to: &out, indent: level + 1)
                out += i == items.count - 1 ? "\n" : ",\n"
            }
            out += JSONValue.indent(level)
            out += "]"
        case .string(let s): JSONValue.quote(s, into: &out)
        case .number(let n): out += String(n)
        case .integer(let n): out += String(n)
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        }
    }

    /// RFC 8259 string escaping.
    static func quote(_ s: String, into out: inout String) {
        out += "\""
        // Addresses, names and enum values need no escaping: copy them whole.
        if s.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            out += s
        } else {
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where u.value < 0x20:
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
