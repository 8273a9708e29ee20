import BallastCore
import Testing

/// Graceful removal across rounds: the drain book carries each drain's start.
@Suite struct IPVSReconcileDrainTests {
    let key = tcp("192.0.2.10", 80)
    let own = owning("192.0.2.0/24")
    let settings = IPVSReconcileSettings(drainTimeout: .seconds(60))
    var kept: IPVSVirtualService { service(key, [dest("10.0.0.5:8080")]) }
    var both: IPVSVirtualService { service(key, [dest("10.0.0.5:8080"), dest("10.0.0.6:8080")]) }
    var leaving: IPVSDestinationID { IPVSDestinationID(service: key, endpoint: ep("10.0.0.6:8080")) }

    /// The kernel after the first round: the leaving destination at weight 0.
    func quiesced(active: UInt32, inactive: UInt32 = 0) -> ObservedVirtualService {
        observed(service(key, [dest("10.0.0.5:8080"), dest("10.0.0.6:8080", weight: 0)]),
                 active: ["10.0.0.6:8080": active], inactive: ["10.0.0.6:8080": inactive])
    }

    func round(_ observed: [ObservedVirtualService], desired: [IPVSVirtualService]? = nil,
               book: IPVSDrainBook, at seconds: Int64,
               settings: IPVSReconcileSettings? = nil) -> IPVSDiff {
        IPVSDiff(desired: desired ?? [kept], observed: observed, ownership: own, drainBook: book,
                 settings: settings ?? self.settings, now: t0 + .seconds(seconds))
    }

    @Test func drainStartsThenEndsWhenIdle() {
        let first = round([observed(both, active: ["10.0.0.6:8080": 2])], book: IPVSDrainBook(), at: 0)
        #expect(first.steps.map(\.description) == [
            "edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80 (draining, 2 connections)",
        ])
        guard case .editDestination(_, let d) = first.operations.first else {
            Issue.record("expected an edit")
            return
        }
        #expect(d.weight == 0 && d.port == 8080)
        #expect(first.drainBook[leaving] == t0)

        let second = round([quiesced(active: 1, inactive: 1)], book: first.drainBook, at: 20)
        #expect(second.operations.isEmpty)
        #expect(second.draining.map(\.age) == [.seconds(20)])
        #expect(second.draining.map(\.since) == [t0])
        #expect(second.drainBook == first.drainBook)

        let third = round([quiesced(active: 0)], book: second.drainBook, at: 30)
        #expect(third.steps.map(\.description) == [
            "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (drained, idle)",
        ])
        #expect(third.drainBook.isEmpty && third.draining.isEmpty)
    }

    @Test func drainTimeoutDeletesWithConnectionsLeft() {
        var book = IPVSDrainBook()
        book[leaving] = t0
        let justBefore = round([quiesced(active: 1)], book: book, at: 59)
        #expect(justBefore.operations.isEmpty)
        let atTimeout = round([quiesced(active: 1)], book: book, at: 60)
        #expect(atTimeout.steps.map(\.description) == [
            "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (drain timeout after 60s, 1 connection dropped)",
        ])
        #expect(atTimeout.drainBook.isEmpty)
    }

    @Test func zeroDrainTimeoutDeletesAtOnce() {
        let d = round([observed(both, active: ["10.0.0.6:8080": 5])], book: IPVSDrainBook(), at: 0,
                      settings: IPVSReconcileSettings(drainTimeout: .zero))
        #expect(d.steps.map(\.description) == [
            "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (not desired)",
        ])
    }

    /// A destination left at weight 0 by an earlier run (no book entry) that
    /// is now idle ends its drain too.
    @Test func idleAtWeightZeroWithoutBookIsDrained() {
        let d = round([quiesced(active: 0)], book: IPVSDrainBook(), at: 0)
        #expect(d.steps.map(\.description) == [
            "delete destination 10.0.0.6:8080 from TCP 192.0.2.10:80 (drained, idle)",
        ])
    }

    @Test func noTimeoutDrainsUntilIdle() {
        var book = IPVSDrainBook()
        book[leaving] = t0
        let d = round([quiesced(active: 1)], book: book, at: 86_400, settings: IPVSReconcileSettings(drainTimeout: nil))
        #expect(d.operations.isEmpty && d.draining.map(\.age) == [.seconds(86_400)])
    }

    /// A destination that is desired again while draining gets its weight back
    /// and leaves the book.
    @Test func drainingDestinationComesBack() {
        var book = IPVSDrainBook()
        book[leaving] = t0
        let d = round([quiesced(active: 3)], desired: [both], book: book, at: 10)
        #expect(d.steps.map(\.description) == [
            "edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80 (weight 0 → 1)",
        ])
        #expect(d.drainBook.isEmpty && d.draining.isEmpty)
    }

    /// Someone raised the weight of a draining destination: set it back to 0,
    /// keeping the original start.
    @Test func drainingWeightIsHeldAtZero() {
        var book = IPVSDrainBook()
        book[leaving] = t0
        let d = round([observed(both, active: ["10.0.0.6:8080": 1])], book: book, at: 10)
        #expect(d.steps.map(\.description) == [
            "edit destination 10.0.0.6:8080 of TCP 192.0.2.10:80 (draining, 1 connection)",
        ])
        #expect(d.drainBook[leaving] == t0)
    }

    /// Entries whose destination or service vanished are forgotten.
    @Test func staleEntriesAreDropped() {
        var book = IPVSDrainBook()
        book[leaving] = t0
        book[IPVSDestinationID(service: tcp("192.0.2.99", 80), endpoint: ep("10.0.0.1:80"))] = t0
        let gone = round([observed(kept)], book: book, at: 10)
        #expect(gone.operations.isEmpty && gone.drainBook.isEmpty)

        let serviceRemoved = round([quiesced(active: 2)], desired: [], book: book, at: 10)
        #expect(serviceRemoved.steps.map(\.description) == ["delete service TCP 192.0.2.10:80 (not desired)"])
        #expect(serviceRemoved.drainBook.isEmpty)
    }

    @Test func persistentTemplatesCountAsConnections() {
        let obs = ObservedVirtualService(
            key: key, scheduler: .rr,
            destinations: [ObservedDestination(destination: dest("10.0.0.6:8080"), persistentConnections: 1)])
        let d = round([obs], desired: [service(key)], book: IPVSDrainBook(), at: 0)
        #expect(d.draining.map(\.persistentConnections) == [1])
    }
}
