// When each announced address sends its next gratuitous round.
//
// One task paces every address (L2Announcer's pacer) rather than one task
// per address: a suspended task with its first stack slab is over a
// kilobyte, and a node can announce thousands of addresses (1,030 tasks held
// 1.3 MiB at 10,000 Services; issue 5, memory). The rounds of addresses
// taken over together also go out together, in one wake-up instead of one
// per address. Times are offsets from the announcer's start, so the schedule
// is a plain value, tested without a clock.

/// The rounds still to send for each key: the rest of its takeover burst,
/// then, with a refresh interval, one round every interval for as long as it
/// stays in the schedule.
struct AnnouncementSchedule<Key: Hashable & Comparable> {
    private struct Entry {
        var due: Duration
        /// Burst rounds still to send, the one at `due` included; 0 once the
        /// burst is over and the key is only refreshed.
        var burstLeft: Int
    }

    private let burstCount: Int
    private let burstInterval: Duration
    private let refreshInterval: Duration?
    private var entries: [Key: Entry] = [:]

    init(burstCount: Int, burstInterval: Duration, refreshInterval: Duration?) {
        self.burstCount = burstCount
        self.burstInterval = burstInterval
        self.refreshInterval = refreshInterval
    }

    /// `key` sent the first round of its burst at `now`.
    mutating func started(_ key: Key, at now: Duration) {
        entries[key] = next(after: Entry(due: now, burstLeft: burstCount), sentAt: now)
    }

    /// No more rounds for `key`.
    mutating func stop(_ key: Key) {
        entries[key] = nil
    }

    mutating func removeAll() {
        entries = [:]
    }

    var isEmpty: Bool { entries.isEmpty }

    /// When the earliest round is due; nil when nothing is left to send.
    var nextDue: Duration? { entries.values.lazy.map(\.due).min() }

    /// The keys whose round is due at `now`, in order, each moved on to its
    /// next round (or dropped after its burst, without refresh).
    mutating func takeDue(at now: Duration) -> [Key] {
        let due = entries.filter { $0.value.due <= now }.keys.sorted()
        for key in due {
            entries[key] = next(after: entries[key]!, sentAt: now)
        }
        return due
    }

    /// Counted from when a round went out, not from when it was due: a
    /// pacer woken late sends one round, not a catch-up burst.
    private func next(after entry: Entry, sentAt now: Duration) -> Entry? {
        if entry.burstLeft > 1 {
            return Entry(due: now + burstInterval, burstLeft: entry.burstLeft - 1)
        }
        return refreshInterval.map { Entry(due: now + $0, burstLeft: 0) }
    }
}

/// Time elapsed on a clock since this value was made, for any clock with
/// Duration as its duration (the announcer's clock is an existential).
struct Stopwatch: Sendable {
    let elapsed: @Sendable () -> Duration

    init(_ clock: some Clock<Duration>) {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
    }
}
