// Pure IP address values. No Glibc: these parse and print by hand so the
// core runs anywhere, and so that formatting is exactly RFC 5952 everywhere
// (the kernel, ipvsadm and kubectl all print canonical forms; we compare text
// in tests).

/// Address family, numbered as the kernel numbers it (AF_INET, AF_INET6).
public enum AddressFamily: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case ipv4
    case ipv6

    public var kernelValue: UInt16 { self == .ipv4 ? 2 : 10 }
    public var bitWidth: Int { self == .ipv4 ? 32 : 128 }

    public init?(kernelValue: UInt16) {
        switch kernelValue {
        case 2: self = .ipv4
        case 10: self = .ipv6
        default: return nil
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a == .ipv4 && b == .ipv6 }
}

public struct IPv4Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Host-order value: 192.0.2.1 is 0xC000_0201.
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Dotted quad only: no octal, no shorthand ("10.1"), as Kubernetes validates.
    /// One pass over the UTF-8 bytes with nothing allocated: manifests hold an
    /// address per endpoint, and splitting into Characters cost 12% of decoding.
    public init?(_ text: some StringProtocol) {
        var value: UInt32 = 0
        var field: UInt32 = 0
        var digits = 0
        var dots = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A second digit after a leading 0 would be octal in inet_aton: refused.
                guard !(digits == 1 && field == 0) else { return nil }
                field = field * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                guard field <= 255 else { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | field
                (field, digits, dots) = (0, 0, dots + 1)
            default:
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        self.value = value << 8 | field
    }

    /// Network byte order, as on the wire.
    public var bytes: [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }
}

public struct IPv6Address: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        let a = Array(bytes)
        high = a[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = a[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    /// The eight 16-bit groups.
    public var groups: [UInt16] {
        (0..<8).map { i in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(i % 4)))
        }
    }

    public init(groups g: [UInt16]) {
        precondition(g.count == 8)
        high = g[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        low = g[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
    }

    /// RFC 4291 text forms, including "::" and a trailing dotted quad. No zone ids.
    public init?(_ text: some StringProtocol) {
        let s = String(text)
        guard !s.isEmpty, s.count <= 45, !s.contains("%") else { return nil }
        // Split on the (at most one) "::" without Foundation.
        var halves: [String] = []
        var rest = Substring(s)
        while let r = rest.firstRange(of: "::") {
            halves.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        halves.append(String(rest))
        guard halves.count <= 2, !(halves.count == 2 && halves[1].hasPrefix(":")) else { return nil }

        func parseGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, f) in fields.enumerated() {
                if i == fields.count - 1, allowV4Tail, f.contains(".") {
                    guard let v4 = IPv4Address(f) else { return nil }
                    out.append(UInt16(v4.value >> 16)); out.append(UInt16(v4.value & 0xffff))
                    continue
                }
                guard (1...4).contains(f.count), let n = UInt16(f, radix: 16) else { return nil }
                out.append(n)
            }
            return out
        }

        if halves.count == 1 {
            guard let g = parseGroups(halves[0], allowV4Tail: true), g.count == 8 else { return nil }
            self.init(groups: g)
        } else {
            guard let head = parseGroups(halves[0], allowV4Tail: false),
                  let tail = parseGroups(halves[1], allowV4Tail: true),
                  head.count + tail.count <= 7 else { return nil }
            self.init(groups: head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail)
        }
    }

    /// RFC 5952 canonical text: lower case, longest run (>1) of zero groups as "::".
    public var description: String {
        let g = groups
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen && j - i > 1 { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        func hex(_ r: ArraySlice<UInt16>) -> String { r.map { String($0, radix: 16) }.joined(separator: ":") }
        if bestStart < 0 { return hex(g[...]) }
        return hex(g[0..<bestStart]) + "::" + hex(g[(bestStart + bestLen)...])
    }

    public static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// An IPv4 or IPv6 address. Orders IPv4 before IPv6, then numerically.
public enum IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: String) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
    }

    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self = .v4(IPv4Address(bytes: bytes)!)
        case 16: self = .v6(IPv6Address(bytes: bytes)!)
        default: return nil
        }
    }

    public var family: AddressFamily {
        if case .v4 = self { return .ipv4 }
        return .ipv6
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    /// "192.0.2.1:80" or "[2001:db8::1]:80", as ipvsadm and URLs write them.
    public func withPort(_ port: UInt16) -> String {
        switch self {
        case .v4: "\(self):\(port)"
        case .v6: "[\(self)]:\(port)"
        }
    }

    public static func < (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case let (.v4(x), .v4(y)): x < y
        case let (.v6(x), .v6(y)): x < y
        case (.v4, .v6): true
        case (.v6, .v4): false
        }
    }

    /// The address `n` places after this one, or nil past the end of the family.
    public func advanced(by n: UInt64) -> IPAddress? {
        switch self {
        case .v4(let a):
            let (r, o) = UInt64(a.value).addingReportingOverflow(n)
            guard !o, r <= UInt64(UInt32.max) else { return nil }
            return .v4(IPv4Address(UInt32(r)))
        case .v6(let a):
            let (lo, carry) = a.low.addingReportingOverflow(n)
            let (hi, o) = a.high.addingReportingOverflow(carry ? 1 : 0)
            guard !o else { return nil }
            return .v6(IPv6Address(high: hi, low: lo))
        }
    }
}

extension IPAddress: Codable {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let a = IPAddress(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(s)\" is not an IPv4 or IPv6 address")
        }
        self = a
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
