// A stream that keeps only the newest update must not lose the changes of
// the updates it drops unread: the reader would never redo those Services.
import BallastCore
import Daemon
import SourceFiles
import Testing

@Suite struct ChangeReportingTests {
    static func service(_ name: String) -> ObjectRef { ObjectRef(namespace: "ns", name: name) }

    @Test func manifestUpdatesReplacedUnreadHandOnTheirChanges() async {
        let (stream, continuation) = AsyncStream.makeStream(of: ManifestUpdate.self, bufferingPolicy: .bufferingNewest(1))
        for (index, name) in ["a", "b", "c"].enumerated() {
            continuation.yieldKeepingChanges(ManifestUpdate(
                snapshot: ClusterSnapshot(), problems: [], changedFiles: ["\(name).yaml"],
                changes: index == 1 ? SnapshotChanges(serviceObjects: [Self.service(name)])
                                    : SnapshotChanges(endpoints: [Self.service(name)])))
        }
        continuation.finish()
        var received: [ManifestUpdate] = []
        for await update in stream { received.append(update) }
        #expect(received.map(\.changedFiles) == [["a.yaml", "b.yaml", "c.yaml"]])
        #expect(received.map(\.changes) == [SnapshotChanges(serviceObjects: [Self.service("b")],
                                                            endpoints: [Self.service("a"), Self.service("c")])])
    }

    @Test func sourceUpdatesReplacedUnreadHandOnTheirChanges() async {
        let (stream, continuation) = AsyncStream.makeStream(of: SourceUpdate.self, bufferingPolicy: .bufferingNewest(1))
        continuation.yieldKeepingChanges(SourceUpdate(snapshot: ClusterSnapshot(),
                                                      changes: SnapshotChanges(endpoints: [Self.service("a")])))
        continuation.yieldKeepingChanges(SourceUpdate(snapshot: ClusterSnapshot(), problems: ["newest"],
                                                      changes: SnapshotChanges(endpoints: [Self.service("b")])))
        continuation.finish()
        var received: [SourceUpdate] = []
        for await update in stream { received.append(update) }
        #expect(received == [SourceUpdate(snapshot: ClusterSnapshot(), problems: ["newest"],
                                          changes: SnapshotChanges(endpoints: [Self.service("a"), Self.service("b")]))])
    }
}
