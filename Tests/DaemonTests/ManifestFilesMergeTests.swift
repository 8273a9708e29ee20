// ManifestFiles patches its merged snapshot file by file; after any sequence
// of edits, broken saves, unreadable files and removals it must equal the
// merge from scratch of every file's last good version, problems included.
// The test keeps those versions itself: ManifestFiles keeps none of its own
// (the merge gives them back).
import BallastConfig
import BallastCore
import BallastTestSupport
@testable import SourceFiles
import Testing

@Suite struct ManifestFilesMergeTests {

    /// Manifest text: some of a few Services and slices (so files often
    /// define the same objects), sometimes a Node, a stray document (a
    /// warning), or a broken document (the file fails to decode).
    static func text(using rng: inout SplitMix64) -> String {
        var documents: [String] = []
        for name in ["s0", "s1", "s2", "s3"] {
            if rng.chance(0.3) {
                documents.append("""
                apiVersion: v1
                kind: Service
                metadata:
                  name: \(name)
                  namespace: ns
                spec:
                  type: LoadBalancer
                  ports:
                  - port: \(rng.pick([80, 443]))
                """)
            }
            if rng.chance(0.3) {
                documents.append("""
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                addressType: IPv4
                metadata:
                  name: \(name)-abc
                  namespace: ns
                  labels:
                    kubernetes.io/service-name: \(rng.chance(0.9) ? name : "s0")
                endpoints:
                - addresses: ["10.0.0.\(Int.random(in: 1...3, using: &rng))"]
                  conditions:
                    ready: \(rng.chance(0.7))
                """)
            }
        }
        if rng.chance(0.1) { documents.append("apiVersion: v1\nkind: Node\nmetadata:\n  name: n\(Int.random(in: 1...2, using: &rng))") }
        if rng.chance(0.1) { documents.append("just: a map") }
        if rng.chance(0.1) { documents.append("apiVersion: v1\nkind: Service\nmetadata: [") }
        return documents.joined(separator: "\n---\n") + "\n"
    }

    /// The merge from scratch, as ManifestFiles did it before it patched, of
    /// `lastGood` (by file name: path and objects) and the files' problems.
    static func reference(_ files: ManifestFiles, lastGood: [String: (path: String, set: ManifestSet)])
        -> (snapshot: ClusterSnapshot, problems: [ManifestProblem]) {
        var problems: [ManifestProblem] = []
        if let directoryProblem = files.directoryProblem { problems.append(directoryProblem) }
        var inForce: [String: ManifestSet] = [:]
        var nameOfPath: [String: String] = [:]
        #expect(lastGood.keys.allSatisfy { files.entries[$0] != nil }, "every file in force is known")
        for (file, entry) in files.entries.sorted(by: { $0.key < $1.key }) {
            if let problem = entry.problem { problems.append(problem) }
            #expect((entry.good != nil) == (lastGood[file] != nil), "\(file): in force")
            guard let (path, good) = lastGood[file] else { continue }
            #expect(entry.path == path, "\(file): path")
            inForce[path] = good
            nameOfPath[path] = file
            problems += good.diagnostics.filter { $0.severity != .note }.map {
                ManifestProblem(file: file, kind: .warning, message: $0.description)
            }
        }
        let (snapshot, diagnostics) = ManifestSet.snapshot(of: inForce)
        problems += diagnostics.filter { $0.severity != .note }.map { d in
            ManifestProblem(file: d.location.flatMap { nameOfPath[$0.file] } ?? "", kind: .warning, message: d.description)
        }
        return (snapshot, problems)
    }

    @Test(arguments: 0..<60)
    func patchedMergeEqualsMergeFromScratch(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var files = ManifestFiles()
        var lastGood: [String: (path: String, set: ManifestSet)] = [:]
        var before = ClusterSnapshot()
        for step in 0..<30 {
            let name = "f\(Int.random(in: 0..<5, using: &rng)).yaml"
            let path = "/m/" + name
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                let withdrawn = files.remove(file: name)
                #expect(withdrawn == (lastGood[name].map { $0.set != ManifestSet() } ?? false), "seed \(seed) step \(step)")
                lastGood[name] = nil
            case 1:
                files.unreadable(file: name, path: path, message: "\(path): Permission denied")
            default:
                let text = Self.text(using: &rng)
                let changed = files.update(file: name, path: path, contents: text, decoder: kubernetesManifestDecoder)
                if let set = try? kubernetesManifestDecoder(path, text) {
                    #expect(changed == (lastGood[name]?.set != set), "seed \(seed) step \(step): changed")
                    lastGood[name] = (path, set)
                } else {
                    #expect(!changed, "seed \(seed) step \(step): a broken file changes nothing")
                }
            }
            let changes = files.takeChanges()
            let (snapshot, problems) = files.merged()
            let expected = Self.reference(files, lastGood: lastGood)
            #expect(snapshot == expected.snapshot, "seed \(seed) step \(step): snapshot")
            #expect(problems == expected.problems, "seed \(seed) step \(step): problems")
            if !changes.everything {
                #expect(before.nodes == snapshot.nodes, "seed \(seed) step \(step): Nodes changed unannounced")
                for ref in Set(before.services.keys).union(snapshot.services.keys)
                where before.services[ref] != snapshot.services[ref] {
                    #expect(changes.serviceObjects.contains(ref), "seed \(seed) step \(step): Service \(ref)")
                }
                for ref in Set(before.endpointSlices.keys).union(snapshot.endpointSlices.keys)
                where before.endpointSlices[ref] != snapshot.endpointSlices[ref] {
                    let owners = [before.endpointSlices[ref]?.serviceRef, snapshot.endpointSlices[ref]?.serviceRef]
                    #expect(owners.allSatisfy { $0.map(changes.endpoints.contains) ?? true },
                            "seed \(seed) step \(step): slice \(ref)")
                }
            }
            before = snapshot
        }
    }
}
