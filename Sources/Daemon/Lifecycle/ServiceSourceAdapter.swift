// Where Services come from, behind one protocol so the loop does not care
// whether it is a directory of manifests or (later) the Kubernetes API.
import BallastCore
import Logging
import SourceFiles

public struct SourceUpdate: Sendable, Hashable {
    public var snapshot: ClusterSnapshot
    /// Sentences about input that is not (fully) used, for status.
    public var problems: [String]
    /// What changed in `snapshot` since the update before.
    public var changes: SnapshotChanges

    public init(snapshot: ClusterSnapshot, problems: [String] = [], changes: SnapshotChanges = .everything) {
        self.snapshot = snapshot
        self.problems = problems
        self.changes = changes
    }
}

extension SourceUpdate: ChangeReporting {
    public mutating func takeOverChanges(of replaced: SourceUpdate) -> Bool {
        let before = changes
        changes.formUnion(replaced.changes)
        return changes != before
    }
}

public protocol ServiceSourcing: Sendable {
    /// "files /etc/ballast/services".
    var description: String { get }
    /// The first element is the complete initial state; the stream ends after `stop()`.
    func updates() throws -> AsyncStream<SourceUpdate>
    func stop()
}

/// The manifest directory source (SourceFiles) as a `ServiceSourcing`.
public struct ManifestFilesSource: ServiceSourcing {
    let source: ManifestDirectorySource

    public init(directory: String, decoder: @escaping ManifestDecoder, logger: Logger) {
        source = ManifestDirectorySource(directory: directory, decoder: decoder, logger: logger)
    }

    public var description: String { "files \(source.directory)" }

    public func updates() throws -> AsyncStream<SourceUpdate> {
        let manifests = try source.updates()
        return AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let pump = Task {
                for await update in manifests {
                    // Only the newest update is kept; one replaced unread hands on its changes.
                    continuation.yieldKeepingChanges(SourceUpdate(
                        snapshot: update.snapshot, problems: update.problems.map(\.description), changes: update.changes))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in pump.cancel() }
        }
    }

    public func stop() { source.stop() }
}
