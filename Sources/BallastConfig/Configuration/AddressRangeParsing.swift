import BallastCore

/// Why a pool's address entry was rejected, with what to write instead.
struct AddressRangeProblem: Error, Equatable {
    var message: String
    var hint: String?
}

extension AddressRange {
    /// A pool entry as MetalLB writes it: a CIDR (`192.0.2.0/24`,
    /// `2001:db8::/64`) or an inclusive range (`192.0.2.10-192.0.2.20`), with
    /// Kubernetes' strict address syntax. A bare address is the one-address
    /// CIDR (/32 or /128).
    init(parsingPoolEntry text: String) throws(AddressRangeProblem) {
        let trimmed = text.trimmingSpaces
        let example = "write a CIDR such as 192.0.2.0/24 or a range such as 192.0.2.10-192.0.2.20"
        guard !trimmed.contains("-") else {
            let sides = trimmed.split(separator: "-", omittingEmptySubsequences: false).map { String($0).trimmingSpaces }
            guard sides.count == 2 else {
                throw AddressRangeProblem(message: "\"\(text)\" is not an address range", hint: example)
            }
            guard let first = IPAddress(sides[0]) else {
                throw AddressRangeProblem(message: "\"\(sides[0])\" in \"\(text)\" is not an IPv4 or IPv6 address",
                                          hint: sides[0].contains("/") ? "a range joins two addresses, not CIDRs" : example)
            }
            guard let last = IPAddress(sides[1]) else {
                throw AddressRangeProblem(message: "\"\(sides[1])\" in \"\(text)\" is not an IPv4 or IPv6 address",
                                          hint: sides[1].contains("/") ? "a range joins two addresses, not CIDRs" : example)
            }
            guard first.family == last.family else {
                throw AddressRangeProblem(message: "range \"\(text)\" mixes an IPv4 and an IPv6 address",
                                          hint: "a range holds addresses of one family; write one entry per family")
            }
            guard let range = AddressRange(first: first, last: last) else {
                throw AddressRangeProblem(message: "range \"\(text)\" ends at \(last), before its start \(first)",
                                          hint: "write \(last)-\(first)")
            }
            self = range
            return
        }
        do {
            self.init(try CIDR(parsing: trimmed))
        } catch {
            switch error {
            case .badAddress:
                throw AddressRangeProblem(message: "\"\(text)\" is not an IPv4 or IPv6 CIDR or range", hint: example)
            case .badPrefix:
                let width = IPAddress(String(trimmed.prefix { $0 != "/" }))?.family.bitWidth
                throw AddressRangeProblem(message: "\"\(text)\" has an invalid prefix length",
                                          hint: width.map { "the prefix length of this family is 0 to \($0)" })
            case .hostBitsSet(_, let network):
                let host = trimmed.prefix { $0 != "/" }
                let width = IPAddress(String(host))?.family.bitWidth ?? 32
                throw AddressRangeProblem(message: "\"\(text)\" has host bits set",
                                          hint: "did you mean \(network)? For the single address write \(host)/\(width)")
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (no Foundation needed).
    var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
