@testable import Daemon
import Synchronization
import Testing

/// Freed memory goes back once after a quiet spell, not after every sync of a burst.
@Suite struct QuietReleaseTests {
    @Test func releasesOnceAfterTheLastSyncOfABurst() async throws {
        let releases = Atomic<Int>(0)
        let quiet = QuietRelease(after: .milliseconds(100)) { releases.add(1, ordering: .relaxed) }
        for _ in 0..<3 { quiet.syncFinished() }
        try await Task.sleep(for: .milliseconds(30))
        #expect(releases.load(ordering: .relaxed) == 0)
        try await Task.sleep(for: .milliseconds(470))
        #expect(releases.load(ordering: .relaxed) == 1)

        quiet.syncFinished()
        try await Task.sleep(for: .milliseconds(500))
        #expect(releases.load(ordering: .relaxed) == 2)
    }
}
