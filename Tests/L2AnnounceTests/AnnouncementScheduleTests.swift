@testable import L2Announce
import Testing

@Suite struct AnnouncementScheduleTests {
    typealias Schedule = AnnouncementSchedule<String>

    /// Sends every round due until `end`, waking as a pacer would: at each
    /// next due time. Returns (time in seconds, key) for every round sent.
    func run(_ schedule: inout Schedule, until end: Duration) -> [(Int, String)] {
        var sent: [(Int, String)] = []
        while let due = schedule.nextDue, due <= end {
            for key in schedule.takeDue(at: due) { sent.append((Int(due.components.seconds), key)) }
        }
        return sent
    }

    @Test func aBurstSendsItsRemainingRoundsIntervalApartThenEnds() {
        var schedule = Schedule(burstCount: 3, burstInterval: .seconds(2), refreshInterval: nil)
        schedule.started("a", at: .seconds(10))
        #expect(schedule.nextDue == .seconds(12))
        #expect(schedule.takeDue(at: .seconds(11)).isEmpty, "nothing before the interval")
        let sent = run(&schedule, until: .seconds(1000))
        #expect(sent.map(\.0) == [12, 14])
        #expect(schedule.isEmpty && schedule.nextDue == nil)
    }

    @Test func aBurstOfOneRoundLeavesNothingToSendWithoutRefresh() {
        var schedule = Schedule(burstCount: 1, burstInterval: .seconds(1), refreshInterval: nil)
        schedule.started("a", at: .zero)
        #expect(schedule.isEmpty)
    }

    @Test func refreshFollowsTheLastBurstRoundForever() {
        var schedule = Schedule(burstCount: 2, burstInterval: .seconds(1), refreshInterval: .seconds(30))
        schedule.started("a", at: .zero)
        let sent = run(&schedule, until: .seconds(100))
        #expect(sent.map(\.0) == [1, 31, 61, 91])
        #expect(schedule.nextDue == .seconds(121))
    }

    @Test func keysStartedTogetherGoOutTogetherInOrder() {
        var schedule = Schedule(burstCount: 3, burstInterval: .seconds(1), refreshInterval: nil)
        for key in ["c", "a", "b"] { schedule.started(key, at: .zero) }
        schedule.started("d", at: .milliseconds(500))
        #expect(schedule.takeDue(at: .seconds(1)) == ["a", "b", "c"])
        #expect(schedule.nextDue == .milliseconds(1500))
        #expect(schedule.takeDue(at: .milliseconds(1500)) == ["d"])
        #expect(schedule.takeDue(at: .seconds(2)) == ["a", "b", "c"])
    }

    @Test func aStoppedKeySendsNoMoreAndStartingAgainRestartsItsBurst() {
        var schedule = Schedule(burstCount: 3, burstInterval: .seconds(1), refreshInterval: nil)
        schedule.started("a", at: .zero)
        schedule.started("b", at: .zero)
        schedule.stop("a")
        #expect(schedule.takeDue(at: .seconds(1)) == ["b"])
        schedule.started("b", at: .seconds(1))
        #expect(run(&schedule, until: .seconds(100)).map(\.0) == [2, 3])
        schedule.started("a", at: .seconds(50))
        schedule.removeAll()
        #expect(schedule.isEmpty)
    }

    /// A pacer woken late (a loaded machine) sends one round, and the next
    /// one an interval later: no catch-up burst.
    @Test func aLateWakeUpSendsOneRoundAndCountsOnFromIt() {
        var schedule = Schedule(burstCount: 4, burstInterval: .seconds(1), refreshInterval: nil)
        schedule.started("a", at: .zero)
        #expect(schedule.takeDue(at: .seconds(5)) == ["a"])
        #expect(schedule.takeDue(at: .seconds(5)).isEmpty)
        #expect(schedule.nextDue == .seconds(6))
    }
}
