import BallastCore
import Foundation
import Logging
import SourceFiles
import Testing

/// Collects a stream's elements so tests can wait for a state instead of a count.
actor UpdateCollector {
    private(set) var updates: [ManifestUpdate] = []

    init(_ stream: AsyncStream<ManifestUpdate>) {
        Task { await self.consume(stream) }
    }

    private func consume(_ stream: AsyncStream<ManifestUpdate>) async {
        for await update in stream { updates.append(update) }
    }

    var latest: ManifestUpdate? { updates.last }

    /// Waits (up to 10 s, for a loaded CI machine) until the latest update satisfies `condition`.
    func wait(_ what: Comment, until condition: @Sendable (ManifestUpdate) -> Bool) async -> ManifestUpdate? {
        for _ in 0..<1000 {
            if let last = updates.last, condition(last) { return last }
            try? await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting for: \(what); latest: \(String(describing: updates.last))")
        return nil
    }
}

@Suite(.serialized) struct ManifestDirectorySourceTests {
    let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    func services(_ update: ManifestUpdate) -> [ObjectRef] { update.snapshot.services.keys.sorted() }

    @Test func followsWritesRenamesDeletesAndBrokenFiles() async throws {
        let dir = try TemporaryDirectory("ballast-src")
        try dir.write("a.yaml", "service default/a")
        try dir.write("notes.txt", "ignored")
        let source = ManifestDirectorySource(directory: dir.path + "/", decoder: testDecoder, logger: logger)
        let collector = UpdateCollector(try source.updates())
        defer { source.stop() }

        let first = await collector.wait("initial content") { $0.snapshot.services.count == 1 }
        #expect(first?.changedFiles == ["a.yaml"])

        // A new file written in place (IN_CLOSE_WRITE).
        try dir.write("b.yaml", "service default/b")
        _ = await collector.wait("b.yaml added") { self.services($0) == [ref("default/a"), ref("default/b")] }

        // An editor's rename-over: write a hidden temp file, rename it onto the manifest.
        try dir.write(".b.yaml.tmp", "service default/b2")
        #expect(rename(dir.file(".b.yaml.tmp"), dir.file("b.yaml")) == 0)
        let renamed = await collector.wait("b.yaml renamed over") { self.services($0) == [ref("default/a"), ref("default/b2")] }
        #expect(renamed?.changedFiles == ["b.yaml"])

        // A broken edit of a.yaml: the last good version stays, b.yaml unaffected.
        try dir.write("a.yaml", "service default/a\nnot a manifest line")
        let broken = await collector.wait("a.yaml reported") { !$0.problems.isEmpty }
        #expect(broken.map(services) == [ref("default/a"), ref("default/b2")])
        #expect(broken?.problems.map(\.description) == [
            "\(dir.path)/a.yaml:2: cannot read \"not a manifest line\" (the last good version of a.yaml stays in force)",
        ])

        // Renamed away to a non-manifest name (IN_MOVED_FROM): withdrawn, problem gone.
        #expect(rename(dir.file("a.yaml"), dir.file("a.yaml.disabled")) == 0)
        _ = await collector.wait("a.yaml withdrawn") { self.services($0) == [ref("default/b2")] && $0.problems.isEmpty }

        // Deleted.
        #expect(unlink(dir.file("b.yaml")) == 0)
        _ = await collector.wait("b.yaml deleted") { $0.snapshot.services.isEmpty }
    }

    @Test func coalescesABurstOfWrites() async throws {
        let dir = try TemporaryDirectory("ballast-burst")
        // A long debounce makes the burst below land in one window even on a loaded machine.
        let source = ManifestDirectorySource(directory: dir.path, decoder: testDecoder, debounce: .milliseconds(500),
                                             maximumDelay: .seconds(5), logger: logger)
        let collector = UpdateCollector(try source.updates())
        defer { source.stop() }
        _ = await collector.wait("initial (empty) content") { $0.snapshot.services.isEmpty }
        let before = await collector.updates.count

        for i in 0..<30 { try dir.write("s\(i).yaml", "service default/s\(i)") }
        _ = await collector.wait("all 30 files") { $0.snapshot.services.count == 30 }
        let updates = await collector.updates.count - before
        #expect(updates < 30, "30 writes were delivered as \(updates) updates")
    }

    @Test func aChangeAfterAQuietPeriodIsAppliedAtOnceAndTheNextOnesCoalesce() async throws {
        let dir = try TemporaryDirectory("ballast-leading")
        try dir.write("a.yaml", "service default/a")
        // A debounce longer than the leading edge may take, even on a loaded machine.
        let debounce = Duration.seconds(2)
        let source = ManifestDirectorySource(directory: dir.path, decoder: testDecoder, debounce: debounce,
                                             maximumDelay: .seconds(20), logger: logger)
        let collector = UpdateCollector(try source.updates())
        defer { source.stop() }
        _ = await collector.wait("initial content") { $0.snapshot.services.count == 1 }
        try await Task.sleep(for: debounce + .milliseconds(100))

        // Rewritten in place (IN_CLOSE_WRITE): complete, applied at once.
        let clock = ContinuousClock()
        let written = clock.now
        try dir.write("a.yaml", "service default/a2")
        _ = await collector.wait("a.yaml rewritten") { self.services($0) == [ref("default/a2")] }
        #expect(written.duration(to: clock.now) < debounce, "the first change waited for the debounce")
        let before = await collector.updates.count

        // Right after an update: these wait for the window and arrive together.
        try dir.write("b.yaml", "service default/b")
        try dir.write("c.yaml", "service default/c")
        _ = await collector.wait("b.yaml and c.yaml") { $0.snapshot.services.count == 3 }
        #expect(await collector.updates.count - before == 1)
    }

    @Test func survivesTheDirectoryBeingRemovedAndRecreated() async throws {
        let parent = try TemporaryDirectory("ballast-parent")
        let path = parent.file("services")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try "service default/a".write(toFile: path + "/a.yaml", atomically: false, encoding: .utf8)
        let source = ManifestDirectorySource(directory: path, decoder: testDecoder, logger: logger)
        let collector = UpdateCollector(try source.updates())
        defer { source.stop() }
        _ = await collector.wait("initial content") { $0.snapshot.services.count == 1 }

        // Moving the directory away is not a deletion of its files: they stay in force.
        #expect(rename(path, parent.file("moved")) == 0)
        let lost = await collector.wait("directory problem") { $0.problems.contains { $0.kind == .directory } }
        #expect(lost?.snapshot.services.count == 1)

        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        try "service default/new".write(toFile: path + "/n.yaml", atomically: false, encoding: .utf8)
        _ = await collector.wait("directory back") { self.services($0) == [ref("default/new")] && $0.problems.isEmpty }
    }

    @Test func missingDirectoryAtStartIsAProblemNotAFailure() async throws {
        let parent = try TemporaryDirectory("ballast-missing")
        let source = ManifestDirectorySource(directory: parent.file("absent"), decoder: testDecoder, logger: logger)
        let collector = UpdateCollector(try source.updates())
        defer { source.stop() }
        let update = await collector.wait("directory problem") { !$0.problems.isEmpty }
        #expect(update?.problems.first?.kind == .directory)
        #expect(update?.problems.first?.message.contains("No such file or directory") == true)
    }

    @Test func stopEndsTheStream() async throws {
        let dir = try TemporaryDirectory("ballast-stop")
        let source = ManifestDirectorySource(directory: dir.path, decoder: testDecoder, logger: logger)
        let stream = try source.updates()
        source.stop()
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count <= 1)
    }
}
