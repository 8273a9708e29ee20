// Text names of service flags, spelled as ipvsadm's --ops and -b options
// spell them. The SCHED1/SCHED2 bits mean different things per scheduler
// (sh-port for sh, mh-port for mh), so their names depend on it.

extension IPVSServiceFlags {
    /// Every name a table file may use with `scheduler`, in display order.
    public static func names(for scheduler: IPVSScheduler) -> [String] {
        (namedBits(for: scheduler) + genericBits).map(\.name)
    }

    /// The flag called `name` under `scheduler`, or nil when the name is unknown
    /// or belongs to another scheduler (sh-port under rr).
    public init?(name: String, scheduler: IPVSScheduler) {
        let all = Self.namedBits(for: scheduler) + Self.genericBits
        guard let bit = all.first(where: { $0.name == name }) else { return nil }
        self = bit.flag
    }

    /// The scheduler that gives `name` its meaning, for names that only exist
    /// under one scheduler ("sh-port" → sh).
    public static func scheduler(owning name: String) -> IPVSScheduler? {
        [IPVSScheduler.sh, .mh].first { s in namedBits(for: s).contains { $0.name == name && $0.flag != .onePacket } }
    }

    /// The set bits by name, in display order: ["one-packet", "sh-port"].
    public func names(scheduler: IPVSScheduler) -> [String] {
        let specific = Self.namedBits(for: scheduler)
        var remaining = self
        var out: [String] = []
        for bit in specific + Self.genericBits where remaining.contains(bit.flag) {
            out.append(bit.name)
            remaining.remove(bit.flag)
        }
        return out
    }

    private static func namedBits(for scheduler: IPVSScheduler) -> [(name: String, flag: IPVSServiceFlags)] {
        switch scheduler {
        case .sh: [("one-packet", .onePacket), ("sh-fallback", .shFallback), ("sh-port", .shPort)]
        case .mh: [("one-packet", .onePacket), ("mh-fallback", .mhFallback), ("mh-port", .mhPort)]
        default: [("one-packet", .onePacket)]
        }
    }

    /// The scheduler-neutral names of the SCHED bits (ipvsadm's flag-1..flag-3):
    /// they round-trip bits that a scheduler gives no name.
    private static let genericBits: [(name: String, flag: IPVSServiceFlags)] = [
        ("flag-1", .schedFlag1), ("flag-2", .schedFlag2), ("flag-3", .schedFlag3),
    ]
}
