// L2Announce's announcer as the loop's Announcing.
import BallastCore
import L2Announce

public struct L2AnnouncerAdapter: Announcing {
    public let announcer: L2Announcer

    public init(_ announcer: L2Announcer) { self.announcer = announcer }

    public func run() async throws { try await announcer.run() }

    public func announce(_ announcements: [Announcement]) async {
        func selections(_ list: [Announcement]) -> [IPAddress: L2InterfaceSelection] {
            Dictionary(list.map { a in (a.address, a.interfaces.map { L2InterfaceSelection.interfaces($0) } ?? .automatic) },
                       uniquingKeysWith: { first, _ in first })
        }
        await announcer.setAnnounced(selections(announcements.filter { !$0.answerOnly }),
                                     answering: selections(announcements.filter(\.answerOnly)))
    }

    public func stopAll() async { await announcer.setAnnounced([:]) }
}
