// Desired vs actual for Ballast's SNAT table, as sorted sets of elements
// (SNATElements). A change of Services becomes the elements to add and
// delete, written in one transaction; the whole table is written only when
// it is missing, not Ballast's, or turns empty or non-empty (no elements
// means no chains, so no hooks). A table that is already right is never
// written, so a restarted daemon does not touch it.

/// A connection's original destination that needs source NAT: a VIP, protocol
/// and port of a Service whose traffic policy is Cluster and that has
/// endpoints on other nodes. Packets to it get the mark.
public struct SNATMatch: SNATElement, CustomStringConvertible {
    public var address: IPAddress
    public var `protocol`: IPVSProtocol
    public var port: UInt16

    public init(address: IPAddress, protocol: IPVSProtocol, port: UInt16) {
        self.address = address
        self.protocol = `protocol`
        self.port = port
    }

    public var description: String { "\(`protocol`.upperName) \(address.withPort(port))" }

    public static func < (a: Self, b: Self) -> Bool {
        (a.address, a.port, a.protocol.number) < (b.address, b.port, b.protocol.number)
    }

    /// An IPv4 VIP in the high 32 bits, then the port, then the protocol
    /// number: the words order as `<` does.
    public var packed: UInt64? {
        guard case .v4(let vip) = address else { return nil }
        return UInt64(vip.value) << 32 | UInt64(port) << 16 | UInt64(`protocol`.number)
    }

    public init(packed word: UInt64) {
        address = .v4(IPv4Address(UInt32(truncatingIfNeeded: word >> 32)))
        port = UInt16(truncatingIfNeeded: word >> 16)
        `protocol` = switch UInt16(truncatingIfNeeded: word) {
        case IPVSProtocol.tcp.number: .tcp
        case IPVSProtocol.udp.number: .udp
        case IPVSProtocol.sctp.number: .sctp
        default: preconditionFailure("\(word) is not a packed SNATMatch")
        }
    }
}

/// A VIP and an endpoint on another node that IPVS forwards it to: marked
/// connections to the VIP that leave towards the endpoint are masqueraded.
///
/// No port: the mark already says the connection's original destination was a
/// VIP, protocol and port in `SNATTable.marks`, and the pair says the
/// endpoint is remote for that VIP. A connection to another port of the same
/// VIP is either not marked (a Local-policy Service, or one whose endpoints
/// are all local) or marked for a Service whose remote endpoints all need
/// source NAT; an endpoint address is remote or local by the node it runs on,
/// whichever port it serves, so the pair cannot make a local endpoint
/// masqueraded.
public struct SNATPair: SNATElement, CustomStringConvertible {
    /// Kept small: two IPv4 addresses are one 8-byte word, which is also
    /// what a table stores for the pair (`packed`, `SNATElements`); anything
    /// else sits in a shared box. `IPAddress` takes 17 bytes, so two of them
    /// made a 48-byte stride; this takes 16. One pair has one form (IPv4
    /// pairs are always `.v4`), so the synthesized equality and hash stay
    /// those of the values.
    private enum Storage: Sendable, Hashable {
        /// VIP in the high 32 bits, destination in the low.
        case v4(UInt64)
        case other(Addresses)
    }

    private final class Addresses: Sendable, Hashable {
        let address: IPAddress
        let destination: IPAddress

        init(_ address: IPAddress, _ destination: IPAddress) {
            self.address = address
            self.destination = destination
        }

        static func == (a: Addresses, b: Addresses) -> Bool {
            a.address == b.address && a.destination == b.destination
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(address)
            hasher.combine(destination)
        }
    }

    private var storage: Storage

    public init(address: IPAddress, destination: IPAddress) {
        if case .v4(let vip) = address, case .v4(let endpoint) = destination {
            storage = .v4(Self.word(address: vip.value, destination: endpoint.value))
        } else {
            storage = .other(Addresses(address, destination))
        }
    }

    public var address: IPAddress {
        get {
            switch storage {
            case .v4(let word): .v4(IPv4Address(UInt32(truncatingIfNeeded: word >> 32)))
            case .other(let addresses): addresses.address
            }
        }
        set { self = SNATPair(address: newValue, destination: destination) }
    }

    public var destination: IPAddress {
        get {
            switch storage {
            case .v4(let word): .v4(IPv4Address(UInt32(truncatingIfNeeded: word)))
            case .other(let addresses): addresses.destination
            }
        }
        set { self = SNATPair(address: address, destination: newValue) }
    }

    public var description: String { "\(address) → \(destination)" }

    public static func < (a: Self, b: Self) -> Bool {
        if case .v4(let x) = a.storage, case .v4(let y) = b.storage { return x < y }
        return (a.address, a.destination) < (b.address, b.destination)
    }

    /// The word of an all-IPv4 pair: the VIP in the high 32 bits, the destination in the low.
    static func word(address: UInt32, destination: UInt32) -> UInt64 {
        UInt64(address) << 32 | UInt64(destination)
    }

    public var packed: UInt64? {
        guard case .v4(let word) = storage else { return nil }
        return word
    }

    public init(packed word: UInt64) {
        storage = .v4(word)
    }
}

/// What Ballast's SNAT table holds: the VIP:ports whose packets are marked and
/// the VIP → remote endpoint pairs that marked connections are masqueraded
/// towards. Both families together; the table keeps them in separate sets.
public struct SNATTable: Sendable, Hashable, CustomStringConvertible {
    public var marks: SNATElements<SNATMatch>
    public var masquerades: SNATElements<SNATPair>

    public init(marks: SNATElements<SNATMatch> = [], masquerades: SNATElements<SNATPair> = []) {
        self.marks = marks
        self.masquerades = masquerades
    }

    /// The table for `rules`: destinations of the other address family are
    /// dropped (IPVS cannot forward across families, so they are unreachable
    /// through the rule anyway), and a rule left without destinations marks
    /// nothing (nothing to masquerade).
    ///
    /// IPv4 elements are packed straight from the rules' words. The plan's
    /// rules are sorted by VIP, so the packed arrays come out sorted and are
    /// kept as built, at their exact size; only a VIP with several ports
    /// repeats its pairs, which costs a sort.
    public init(rules: [SNATRule]) {
        var markWords: [UInt64] = []
        var pairWords: [UInt64] = []
        var otherMarks: [SNATMatch] = []
        var otherPairs: [SNATPair] = []
        var ipv4Rules = 0
        var ipv4Pairs = 0
        for rule in rules where rule.address.family == .ipv4 && !rule.destinations.ipv4.isEmpty {
            ipv4Rules += 1
            ipv4Pairs += rule.destinations.ipv4.count
        }
        markWords.reserveCapacity(ipv4Rules)
        pairWords.reserveCapacity(ipv4Pairs)
        for rule in rules {
            let mark = SNATMatch(address: rule.address, protocol: rule.protocol, port: rule.port)
            switch rule.address {
            case .v4(let vip):
                guard !rule.destinations.ipv4.isEmpty else { continue }
                for destination in rule.destinations.ipv4 {
                    pairWords.append(SNATPair.word(address: vip.value, destination: destination))
                }
                markWords.append(mark.packed!)
            case .v6:
                guard !rule.destinations.ipv6.isEmpty else { continue }
                for destination in rule.destinations.ipv6 {
                    otherPairs.append(SNATPair(address: rule.address, destination: .v6(destination)))
                }
                otherMarks.append(mark)
            }
        }
        marks = SNATElements(words: markWords, others: otherMarks)
        masquerades = SNATElements(words: pairWords, others: otherPairs)
    }

    public var isEmpty: Bool { marks.isEmpty && masquerades.isEmpty }

    public var description: String {
        "\(marks.count) marked VIP:port(s), \(masquerades.count) masqueraded VIP → destination pair(s)"
    }

    public func applying(_ change: SNATTableChange) -> SNATTable {
        SNATTable(marks: marks.removing(change.deleteMarks, inserting: change.addMarks),
                  masquerades: masquerades.removing(change.deleteMasquerades, inserting: change.addMasquerades))
    }
}

/// The elements to add to and delete from an SNAT table.
public struct SNATTableChange: Sendable, Hashable, CustomStringConvertible {
    public var addMarks: SNATElements<SNATMatch>
    public var deleteMarks: SNATElements<SNATMatch>
    public var addMasquerades: SNATElements<SNATPair>
    public var deleteMasquerades: SNATElements<SNATPair>

    public init(addMarks: SNATElements<SNATMatch> = [], deleteMarks: SNATElements<SNATMatch> = [],
                addMasquerades: SNATElements<SNATPair> = [], deleteMasquerades: SNATElements<SNATPair> = []) {
        self.addMarks = addMarks
        self.deleteMarks = deleteMarks
        self.addMasquerades = addMasquerades
        self.deleteMasquerades = deleteMasquerades
    }

    /// What turns `old` into `new`: one merge of each pair of sorted sets.
    public init(from old: SNATTable, to new: SNATTable) {
        let marks = SNATElements.difference(from: old.marks, to: new.marks)
        let masquerades = SNATElements.difference(from: old.masquerades, to: new.masquerades)
        self.init(addMarks: marks.added, deleteMarks: marks.removed,
                  addMasquerades: masquerades.added, deleteMasquerades: masquerades.removed)
    }

    public var isEmpty: Bool {
        addMarks.isEmpty && deleteMarks.isEmpty && addMasquerades.isEmpty && deleteMasquerades.isEmpty
    }

    public var description: String {
        "+\(addMarks.count)/-\(deleteMarks.count) marked, +\(addMasquerades.count)/-\(deleteMasquerades.count) masqueraded"
    }
}

public enum SNATReconcile {
    /// How the table was brought to the desired state.
    public enum Write: Sendable, Hashable {
        /// The table already held it.
        case none
        /// Elements added and deleted in one transaction.
        case updated(SNATTableChange)
        /// The whole table written.
        case replaced
    }

    /// What to write to turn `current` (nil: missing or not Ballast's) into `desired`.
    public static func write(from current: SNATTable?, to desired: SNATTable) -> Write {
        guard let current, current.isEmpty == desired.isEmpty else { return .replaced }
        let change = SNATTableChange(from: current, to: desired)
        return change.isEmpty ? .none : .updated(change)
    }

    /// Brings the table to hold `SNATTable(rules: desired)`. Returns true when
    /// it wrote the table, false when the table was already right.
    @discardableResult
    public static func apply(desired: [SNATRule], to control: some SNATControl) throws(DataPlaneError) -> Bool {
        try apply(desired: SNATTable(rules: desired), to: control)
    }

    /// The same with the table already built from the rules.
    @discardableResult
    public static func apply(desired wanted: SNATTable, to control: some SNATControl) throws(DataPlaneError) -> Bool {
        switch write(from: try control.current(expecting: wanted), to: wanted) {
        case .none:
            return false
        case .updated(let change):
            try control.update(change)
        case .replaced:
            try control.replace(with: wanted)
        }
        return true
    }

    /// The same for the rules on `addresses` alone: `desired` is the whole
    /// plan, and the table holds the last one, of which `holding` are the
    /// rules on these addresses (every other address's rules are unchanged).
    /// Only these addresses' elements are compared: the 90,000 masquerade
    /// pairs of 10,000 Services are not walked for a change to one. A table
    /// that is missing or empty, or that would turn empty, is written whole
    /// as in `apply(desired:to:)`.
    @discardableResult
    public static func apply(desired: [SNATRule], addresses: Set<IPAddress>, holding: [SNATRule],
                             to control: some SNATControl) throws(DataPlaneError) -> Bool {
        guard let current = try control.current(), !current.isEmpty else {
            return try apply(desired: desired, to: control)
        }
        guard !addresses.isEmpty else { return false }
        let wanted = SNATTable(rules: desired.filter { addresses.contains($0.address) })
        let change = SNATTableChange(from: SNATTable(rules: holding), to: wanted)
        guard !change.isEmpty else { return false }
        // Deleted elements are in the table and added ones are not: counting is enough.
        let marksLeft = current.marks.count - change.deleteMarks.count + change.addMarks.count
        let pairsLeft = current.masquerades.count - change.deleteMasquerades.count + change.addMasquerades.count
        if marksLeft == 0 && pairsLeft == 0 {
            try control.replace(with: SNATTable())
        } else {
            try control.update(change)
        }
        return true
    }
}
